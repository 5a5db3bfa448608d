"""Configuration: the production profile, its refusals, and the attribution.* system checks."""

import pytest

from tests.conftest import run_manage

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
    assert "METRICS_TOKEN is too weak for production" in result.stderr


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
