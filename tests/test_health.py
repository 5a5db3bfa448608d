"""Liveness, readiness (each backend reported by name) and metrics."""

import shutil
import subprocess
import time

import pytest
from django.db import connection

from core import clickhouse
from tests.conftest import free_port, port_open, service_unavailable

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


def test_admin_login_page_renders(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b"UnMoGrowP admin" in response.content
