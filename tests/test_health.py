"""Liveness, readiness (each backend reported by name) and metrics."""

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from django.db import connection

from core import clickhouse
from tests.conftest import PROJECT_DIR, database_url, free_port, port_open, service_unavailable

pytestmark = pytest.mark.django_db


def test_live_answers_ok(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_reports_every_configured_backend(client, settings):
    response = client.get("/health/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert body["down"] == []
    assert set(body["checks"]) == {"oltp", "olap", "bus", "cache"}
    assert body["checks"]["oltp"]["backend"] == connection.vendor
    assert body["checks"]["olap"]["backend"] == "chdb"
    assert body["checks"]["bus"]["backend"] == ("kafka" if settings.KAFKA_BOOTSTRAP_SERVERS else "outbox")
    assert body["checks"]["cache"]["backend"] == ("RedisCache" if settings.REDIS_URL else "LocMemCache")


def ready_down(client) -> list[str]:
    response = client.get("/health/ready")
    body = response.json()
    assert response.status_code == 503, body
    assert body["status"] == "unavailable"
    return body["down"]


def test_ready_names_an_unreachable_clickhouse(client, settings):
    settings.CLICKHOUSE_URL = f"clickhouse://127.0.0.1:{free_port()}/x"
    clickhouse.reset_backend()
    try:
        assert ready_down(client) == ["olap"]
    finally:
        settings.CLICKHOUSE_URL = ""
        clickhouse.reset_backend()


def test_ready_names_an_unreachable_kafka(client, settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{free_port()}"
    assert ready_down(client) == ["bus"]


def test_ready_names_an_unreachable_database(client, settings):
    original = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent-dir/none.sqlite3"
    else:
        connection.settings_dict["PORT"] = free_port()
    try:
        down = ready_down(client)
    finally:
        connection.close()
        connection.settings_dict.update(original)
    assert "oltp" in down


@pytest.fixture
def private_redis(tmp_path):
    binary = shutil.which("redis-server")
    if binary is None:
        service_unavailable("redis-server binary", "not installed")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not port_open("127.0.0.1", port, timeout=0.2):
        assert time.monotonic() < deadline, "private redis-server did not start"
        time.sleep(0.05)
    yield process, f"redis://127.0.0.1:{port}/0"
    process.kill()
    process.wait()


@pytest.mark.services
def test_ready_reports_redis_up_then_down_when_it_stops(client, settings, private_redis, redis_url):
    process, url = private_redis
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
    response = client.get("/health/ready")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["cache"]["backend"] == "RedisCache"

    process.terminate()
    process.wait()
    assert ready_down(client) == ["cache"]


def test_metrics_exposes_the_product_metrics(client):
    client.get("/health/ready")
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'unmogrowp_health_check_up{backend="olap"} 1.0' in text
    assert "unmogrowp_clickhouse_query_seconds_bucket" in text
    assert "django_http_requests_total_by_method_total" in text


def test_metrics_are_refused_to_other_machines_and_to_requests_through_a_proxy(client):
    for extra in ({"REMOTE_ADDR": "203.0.113.9"}, {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}):
        response = client.get("/metrics", **extra)
        assert response.status_code == 403, extra
        assert b"unmogrowp_" not in response.content
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


def test_metrics_are_served_anywhere_with_the_metrics_token(client, settings):
    settings.METRICS_TOKEN = "m" * 50
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {'m' * 50}", **outside).status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {'x' * 50}", **outside).status_code == 403
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ", **outside).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_consumers_metrics_listen_on_loopback_only_by_default(tmp_path):
    """``manage.py consume_events`` serves /metrics with no token check: not on other interfaces."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet leaves: this only picks the outgoing interface
        outside_address = probe.getsockname()[0]
    if ipaddress.ip_address(outside_address).is_loopback:
        pytest.skip("this machine has no address but loopback")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "CLICKHOUSE", "KAFKA", "REDIS"))},
        "DATABASE_URL": database_url(),
        "VAR_DIR": str(tmp_path),
    }
    env.pop("METRICS_ADDRESS", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate_clickhouse"], cwd=PROJECT_DIR, env=env, check=True, capture_output=True
    )
    port = free_port()
    consumer = subprocess.Popen(
        [sys.executable, "manage.py", "consume_events", "--metrics-port", str(port)],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not port_open("127.0.0.1", port, timeout=0.2):
            assert consumer.poll() is None, consumer.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the consumer's metrics never came up"
            time.sleep(0.1)
        assert not port_open(outside_address, port, timeout=0.5)
    finally:
        consumer.send_signal(signal.SIGTERM)
        consumer.wait(timeout=60)


def test_admin_login_page_renders(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b"UnMoGrowP admin" in response.content
