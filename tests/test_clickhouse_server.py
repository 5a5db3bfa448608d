"""The native-protocol wire contract against a real ClickHouse server (clickhouse-driver).

The only server installable on these machines is Debian's 18.16 (2018), older than the product
supports, so the schema is tested on chdb and these tests use version-neutral SQL with the version
check turned off — except the test that checks the refusal itself.
"""

import datetime as dt
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from core import clickhouse
from core.clickhouse.server import ServerBackend
from tests.conftest import free_port, port_open, service_unavailable

pytestmark = pytest.mark.services

WIRE_TABLE = "CREATE TABLE IF NOT EXISTS wire (id UInt64, name String, at DateTime) ENGINE = MergeTree ORDER BY id"


def wire_backend(url: str, **kwargs) -> ServerBackend:
    kwargs.setdefault("minimum_version", None)
    return ServerBackend(url, f"wire_{uuid.uuid4().hex[:12]}", connect_timeout=2, query_timeout=20, **kwargs)


@pytest.fixture
def backend(clickhouse_server_url):
    chosen = wire_backend(clickhouse_server_url)
    clickhouse.execute(WIRE_TABLE, tag="test.wire", backend=chosen)
    yield chosen
    clickhouse.execute(f"DROP DATABASE IF EXISTS {chosen.database}", tag="test.wire", backend=chosen)
    chosen.close()


def test_insert_100k_rows_in_batches_and_read_them_back(backend):
    at = dt.datetime(2026, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
    for start in range(0, 100_000, 10_000):
        rows = [{"id": i, "name": f"row-{i}", "at": at} for i in range(start, start + 10_000)]
        clickhouse.insert("wire", rows, columns=["id", "name", "at"], tag="test.wire", backend=backend)
    result = clickhouse.execute(
        "SELECT count(), sum(id), uniqExact(name), min(at), max(at) FROM wire", tag="test.wire", backend=backend
    )
    assert result.rows == [(100_000, sum(range(100_000)), 100_000, at, at)]
    sample = clickhouse.execute("SELECT id, name FROM wire WHERE id = 77777", tag="test.wire", backend=backend)
    assert sample.rows == [(77777, "row-77777")]


def test_bad_sql_raises_a_typed_error(backend):
    with pytest.raises(clickhouse.QueryError) as caught:
        clickhouse.execute("SELEC 1", tag="test.wire", backend=backend)
    assert caught.value.code == 62


def test_unknown_table_raises_a_typed_error(backend):
    with pytest.raises(clickhouse.QueryError) as caught:
        clickhouse.execute("SELECT * FROM no_such_table", tag="test.wire", backend=backend)
    assert caught.value.code == 60


def test_an_unreachable_server_raises_connection_lost():
    dead = wire_backend(f"clickhouse://127.0.0.1:{free_port()}")
    with pytest.raises(clickhouse.ConnectionLost):
        clickhouse.execute("SELECT 1", tag="test.wire", backend=dead)


def test_an_old_server_is_refused_with_a_clear_message(clickhouse_server_url):
    strict = wire_backend(clickhouse_server_url, minimum_version=(24, 8))
    version = clickhouse.execute("SELECT version()", tag="test.wire", backend=wire_backend(clickhouse_server_url))
    with pytest.raises(clickhouse.UnsupportedServerVersion) as caught:
        clickhouse.execute("SELECT 1", tag="test.wire", backend=strict)
    message = str(caught.value)
    assert version.scalar() in message
    assert "needs 24.8 or newer" in message


class PrivateServer:
    """A clickhouse-server of this test's own (own port and data directory), so it can be restarted."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        (directory / "users.xml").write_text(
            "<yandex><profiles><default/></profiles><quotas><default/></quotas><users><default>"
            "<password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile>"
            "<quota>default</quota></default></users></yandex>"
        )
        (directory / "config.xml").write_text(
            f"""<yandex>
            <logger><level>warning</level><log>{directory}/server.log</log><errorlog>{directory}/err.log</errorlog></logger>
            <tcp_port>{self.port}</tcp_port><http_port>{free_port()}</http_port><listen_host>127.0.0.1</listen_host>
            <path>{directory}/data/</path><tmp_path>{directory}/tmp/</tmp_path>
            <users_config>users.xml</users_config><default_profile>default</default_profile>
            <default_database>default</default_database><mark_cache_size>268435456</mark_cache_size>
            </yandex>"""
        )

    def start(self) -> None:
        binary = shutil.which("clickhouse-server")
        self.process = subprocess.Popen(
            [binary, f"--config-file={self.directory / 'config.xml'}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", self.port, timeout=0.2):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"private clickhouse-server did not start; see {self.directory}/err.log")
            time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def private_server(tmp_path, clickhouse_server_url):
    if shutil.which("clickhouse-server") is None:
        service_unavailable("clickhouse-server binary", "not installed (apt-get install clickhouse-server)")
    server = PrivateServer(tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


def test_the_client_reconnects_after_the_server_restarts(private_server):
    chosen = wire_backend(f"clickhouse://127.0.0.1:{private_server.port}")
    clickhouse.execute(WIRE_TABLE, tag="test.wire", backend=chosen)
    row = {"id": 1, "name": "before", "at": dt.datetime(2026, 1, 1)}
    clickhouse.insert("wire", [row], columns=["id", "name", "at"], tag="test.wire", backend=chosen)

    private_server.stop()
    with pytest.raises(clickhouse.ConnectionLost):
        clickhouse.execute("SELECT count() FROM wire", tag="test.wire", backend=chosen)
    private_server.start()

    assert clickhouse.execute("SELECT name FROM wire", tag="test.wire", backend=chosen).rows == [("before",)]
