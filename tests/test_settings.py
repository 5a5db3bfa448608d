"""Configuration: the production profile, its refusals, development's own keys, and the
attribution.* system checks."""

import json
import os
import stat
import subprocess
import sys

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts import tokens
from attribution.development_keys import FILE_NAME, LEGACY_PSEUDONYMIZATION_KEY, NAMES
from tests.conftest import KEY_VARIABLES, PROJECT_DIR, run_manage
from tests.factories import UserFactory

PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "x" * 20 + "-production-secret-for-the-deploy-check-only-0123456789",
    "ALLOWED_HOSTS": "attribution.example.com",
    "DATABASE_URL": "postgres://app:pw@db.example.com:5432/unmogrowp",
    "CLICKHOUSE_URL": "clickhouse://app:pw@ch.example.com:9000/unmogrowp",
    "KAFKA_BOOTSTRAP_SERVERS": "kafka-1.example.com:9092,kafka-2.example.com:9092",
    "REDIS_URL": "redis://cache.example.com:6379/0",
    "JWT_SIGNING_KEY": "y" * 20 + "-production-jwt-key-for-the-deploy-check-only-0123456789",
    "SDK_SIGNING_KEY": "z" * 20 + "-production-sdk-key-for-the-deploy-check-only-0123456789",
    "PSEUDONYMIZATION_KEY": "p" * 20 + "-production-pseudonymization-key-for-the-check-0123456789",
}


def test_production_settings_pass_the_deploy_check_with_zero_issues():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL"])
def test_production_refuses_to_boot_without_a_required_variable(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_ENV=production needs these environment variables" in result.stderr
    assert missing in result.stderr


@pytest.mark.parametrize("secret", ["django-insecure-development-only-never-use-in-production", "short"])
def test_production_refuses_a_default_or_weak_secret(secret):
    result = run_manage("check", env={**PRODUCTION, "SECRET_KEY": secret})
    assert result.returncode != 0
    assert "SECRET_KEY is the development default or too weak" in result.stderr


def test_production_refuses_a_weak_metrics_token():
    result = run_manage("check", env={**PRODUCTION, "METRICS_TOKEN": "short"})
    assert result.returncode != 0
    assert "METRICS_TOKEN is the development default or too weak" in result.stderr


@pytest.mark.parametrize(
    ("env", "check_id"),
    [
        ({"CLICKHOUSE_URL": "http://ch:8123"}, "attribution.E001"),
        ({"CLICKHOUSE_DATABASE": "bad-name;"}, "attribution.E003"),
        ({"KAFKA_BOOTSTRAP_SERVERS": "kafka-without-port"}, "attribution.E004"),
        ({"REDIS_URL": "memcached://x:11211"}, "attribution.E005"),
    ],
)
def test_misconfiguration_is_reported_at_boot_with_the_fix(env, check_id, tmp_path):
    result = run_manage("check", env={**env, "VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert check_id in result.stderr
    assert "HINT: Set" in result.stderr


def test_the_embedded_default_needs_no_environment(tmp_path):
    result = run_manage("check", env={"VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr


# --- development keys ------------------------------------------------------------------------------

PRINT_KEYS = (
    "import json; from django.conf import settings; "
    f"print(json.dumps({{name: getattr(settings, name) for name in {NAMES!r}}}))"
)
# What development signed with before it made keys of its own: published in the source.
PUBLISHED_KEYS = {name: f"django-insecure-development-only-{name.lower()}-never-use-in-production" for name in NAMES}


def development_keys_of(var_dir, **env) -> dict[str, str]:
    result = run_manage("shell", "-c", PRINT_KEYS, env={"VAR_DIR": str(var_dir), **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_development_instance_makes_its_own_random_keys_once_and_keeps_them(tmp_path):
    first = development_keys_of(tmp_path / "one")
    assert first == development_keys_of(tmp_path / "one")  # the next command of `make run` signs alike
    assert len(set(first.values())) == len(NAMES)
    assert all(len(key) >= 50 and key != PUBLISHED_KEYS[name] for name, key in first.items())
    assert stat.S_IMODE((tmp_path / "one" / FILE_NAME).stat().st_mode) == 0o600
    other = development_keys_of(tmp_path / "two")
    assert not set(first.values()) & set(other.values())


def test_processes_starting_at_once_on_a_new_var_dir_agree_on_the_keys(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE", *KEY_VARIABLES))}
    starting = [
        subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", PRINT_KEYS],
            cwd=PROJECT_DIR,
            env={**env, "VAR_DIR": str(tmp_path)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=120) for process in starting]
    assert all(process.returncode == 0 for process in starting), [err for _, err in outputs]
    assert len({out.strip().splitlines()[-1] for out, _ in outputs}) == 1
    assert [path.name for path in tmp_path.iterdir() if "keys" in path.name] == [FILE_NAME]  # no leftovers


def test_environment_variables_win_over_the_development_keys(tmp_path):
    made = development_keys_of(tmp_path)
    chosen = development_keys_of(tmp_path, JWT_SIGNING_KEY="j" * 64)
    assert chosen == {**made, "JWT_SIGNING_KEY": "j" * 64}


def test_a_var_dir_holding_data_from_before_keeps_its_pseudonymization_key(tmp_path):
    (tmp_path / "clickhouse").mkdir()  # pseudonyms stored with the key every instance shared until now
    keys = development_keys_of(tmp_path)
    assert keys["PSEUDONYMIZATION_KEY"] == LEGACY_PSEUDONYMIZATION_KEY
    assert keys["JWT_SIGNING_KEY"] != PUBLISHED_KEYS["JWT_SIGNING_KEY"]


@pytest.mark.django_db
def test_a_token_forged_with_the_published_development_key_is_refused():
    assert not set(PUBLISHED_KEYS.values()) & {settings.SECRET_KEY, settings.JWT_SIGNING_KEY, settings.SDK_SIGNING_KEY}
    admin = UserFactory(role="admin")
    genuine = jwt.decode(tokens.issue(admin)["access"], options={"verify_signature": False})
    forged = jwt.encode(genuine, PUBLISHED_KEYS["JWT_SIGNING_KEY"], algorithm="HS256")
    assert APIClient().get("/api/admin/users", HTTP_AUTHORIZATION=f"Bearer {forged}").status_code == 401
