"""Management commands while `make run` serves, in the embedded default: the server owns the chdb
store, so a command that needs ClickHouse hands itself to the server (core.command_runs), shows its
output as it comes and exits with its status."""

import os
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import PROJECT_DIR, free_port, run_manage


def clean_env(var_dir) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE", "CLICKHOUSE", "KAFKA"))}
    base.pop("REDIS_URL", None)
    return {**base, "VAR_DIR": str(var_dir)}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`make run`'s server (runserver, background jobs on), on a store of its own with one app."""
    var_dir = tmp_path_factory.mktemp("served")
    env = {"VAR_DIR": str(var_dir)}
    for command in (("migrate", "--no-input"), ("migrate_clickhouse",), ("ensure_admin",)):
        result = run_manage(*command, env=env)
        assert result.returncode == 0, result.stderr
    result = run_manage("create_app", "Served app", "--owner", "admin@example.com", env=env)
    assert result.returncode == 0, result.stderr
    port = free_port()
    log = (var_dir / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=PROJECT_DIR,
        env=clean_env(var_dir),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2).status == 200:
                break
        except OSError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, (var_dir / "server.log").read_text()
        time.sleep(0.3)
    yield env
    process.terminate()
    process.wait(10)
    log.close()


@pytest.mark.parametrize(
    ("command", "shows"),
    [
        (("run_attribution", "--since", "2026-01-01"), "Served app: period 1/"),
        (("replay_dead_letters",), "replayed 0 dead-lettered row(s)"),
        (("migrate_clickhouse", "--check"), "ClickHouse schema is up to date."),
        (("migrate_clickhouse", "--plan"), "ClickHouse schema is up to date."),
        (("export_security_events",), "exported"),
    ],
)
def test_a_command_that_needs_clickhouse_is_run_by_the_server_and_followed(server, command, shows):
    result = run_manage(*command, env=server)
    assert result.returncode == 0, result.stderr
    assert "handed to it" in result.stderr
    assert shows in result.stdout


def test_a_failing_command_exits_with_its_error(server):
    result = run_manage("run_attribution", env=server)
    assert result.returncode == 1
    assert "Give --since" in result.stderr


def test_a_command_that_runs_until_stopped_is_refused_with_the_reason(server):
    result = run_manage("run_attribution", "--follow", env=server)
    assert result.returncode == 1
    assert "owned by another process" in result.stderr
