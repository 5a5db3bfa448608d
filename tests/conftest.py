"""Shared fixtures.

ClickHouse: the whole session uses a fresh chdb data directory and database, migrated once; tests
isolate themselves with a fresh ``app_id`` instead of truncating tables.

External services (PostgreSQL, Redis, Kafka, ClickHouse server): a test that needs one asks for its
fixture. When the service is unreachable the test is skipped — or fails when REQUIRE_SERVICES=1, as
in CI, so that a missing service can never pass silently.
"""

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core.cache import caches

from core import clickhouse
from core.clickhouse.migrator import apply, plan
from events.bus import reset_bus

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
PROJECT_DIR = Path(__file__).resolve().parent.parent


def service_unavailable(name: str, reason: str):
    if REQUIRE_SERVICES:
        pytest.fail(f"{name} is required (REQUIRE_SERVICES=1) but unavailable: {reason}")
    pytest.skip(f"{name} unavailable: {reason}")


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


KEY_VARIABLES = ("SECRET_KEY", "JWT_SIGNING_KEY", "SDK_SIGNING_KEY", "PSEUDONYMIZATION_KEY", "METRICS_TOKEN")


def clean_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the product's configuration and keys, plus ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE", "CLICKHOUSE", "KAFKA"))}
    for name in ("REDIS_URL", *KEY_VARIABLES):
        base.pop(name, None)
    return {**base, **(env or {})}


def run_manage(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh process with only the given environment on top of a clean one."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=clean_environment(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session", autouse=True)
def clickhouse_test_store(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("var")
    settings.CLICKHOUSE_URL = ""
    settings.CLICKHOUSE_EMBEDDED_PATH = var_dir / "clickhouse"
    settings.CLICKHOUSE_DATABASE = "test_unmogrowp"
    clickhouse.reset_backend()
    for migration in plan():
        apply(migration)
    yield var_dir
    clickhouse.reset_backend()


@pytest.fixture(autouse=True)
def _fresh_bus_and_cache():
    """Each test starts with no bus instance and an empty cache (rate-limit and lockout counters)."""
    from apps_registry import keys, links

    reset_bus()
    caches["default"].clear()
    keys.remembered.clear()
    links.remembered.clear()
    yield
    reset_bus()


@pytest.fixture
def app_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
    if not servers:
        service_unavailable("Kafka", "KAFKA_BOOTSTRAP_SERVERS is not set")
    host, port = servers.split(",")[0].rsplit(":", 1)
    if not port_open(host, int(port)):
        service_unavailable("Kafka", f"nothing listens on {servers}")
    return servers


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        service_unavailable("Redis", "REDIS_URL is not set")
    parsed = urlparse(url)
    if not port_open(parsed.hostname, parsed.port or 6379):
        service_unavailable("Redis", f"nothing listens on {url}")
    return url


@pytest.fixture(scope="session")
def clickhouse_server_url() -> str:
    url = os.environ.get("CLICKHOUSE_TEST_SERVER_URL", "")
    if not url:
        service_unavailable("ClickHouse server", "CLICKHOUSE_TEST_SERVER_URL is not set")
    parsed = urlparse(url)
    if not port_open(parsed.hostname, parsed.port or 9000):
        service_unavailable("ClickHouse server", f"nothing listens on {url}")
    return url


@pytest.fixture
def api():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture(scope="session")
def _kafka_drains():
    """Kafka consumers for the whole session: joining a group costs seconds, so tests share them."""
    from events.bus.kafka import KafkaBus
    from events.bus.topics import PARTITIONS, TABLES
    from events.consumer.runner import TopicConsumer

    consumers = {}

    def get():
        if not consumers:
            bus = KafkaBus(settings.KAFKA_BOOTSTRAP_SERVERS, delivery_timeout=10)
            bus.ensure_topics(PARTITIONS)
            group = f"test-{uuid.uuid4().hex}"
            for topic in TABLES:
                consumers[topic] = TopicConsumer(bus.subscribe(topic, f"{group}.{topic}"), topic, max_wait=0.5)
        return consumers

    yield get
    for consumer in consumers.values():
        consumer.subscription.close()


@pytest.fixture
def store_all(_kafka_drains):
    """``store_all()`` moves everything published so far from the configured bus into ClickHouse."""
    from events.bus import get_bus
    from events.bus.topics import TABLES
    from events.consumer.runner import TopicConsumer, consumer_group

    def flush(until=None, timeout: float = 30.0) -> None:
        """Drain until the bus is idle, or until ``until()`` is true (Kafka may deliver late)."""
        if settings.KAFKA_BOOTSTRAP_SERVERS:
            consumers = _kafka_drains()
        else:
            bus = get_bus()
            consumers = {t: TopicConsumer(bus.subscribe(t, consumer_group(t)), t) for t in TABLES}
        deadline = time.monotonic() + timeout
        while True:
            moved = sum(c.drain(max_seconds=5) for c in consumers.values())
            if (until is None and moved == 0) or (until is not None and until()):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"bus not drained into ClickHouse within {timeout}s")

    return flush


def pytest_sessionstart(session):
    """A test run killed half-way can leave the SQLite test database's WAL files behind; a new test
    database next to a stale WAL fails with "disk I/O error". Nothing else uses them: remove them."""
    test_name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") and test_name:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{test_name}{suffix}").unlink(missing_ok=True)


def database_url() -> str:
    """The test database as a URL, for a second process to open."""
    from django.db import connection

    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    return f"postgres://{params['USER']}:{params['PASSWORD']}@{params['HOST']}:{params['PORT']}/{params['NAME']}"
