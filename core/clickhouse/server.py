"""Server backend: a ClickHouse server over the native protocol (clickhouse-driver).

clickhouse-driver clients are not thread-safe, so each thread gets its own. A client pings before
use and reconnects when the server went away (e.g. restarted). The first connection of each client
checks the server version and refuses servers older than ``MINIMUM_VERSION``.
"""

import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlparse

from clickhouse_driver import Client
from clickhouse_driver import errors as driver_errors

from core.clickhouse.backend import Result, row_values
from core.clickhouse.errors import ClickHouseError, ConnectionLost, QueryError, QueryTimeout, UnsupportedServerVersion
from core.clickhouse.params import normalize
from core.clickhouse.types import normalize_driver_value

# The oldest release whose SQL the schema and the selectors use (Map, window functions, server-side
# parameters over the native protocol, lightweight DELETE): the 24.8 LTS.
MINIMUM_VERSION = (24, 8)

_TIMEOUT_CODE = 159
_CONNECTION_ERRORS = (
    driver_errors.NetworkError,
    driver_errors.SocketTimeoutError,
    driver_errors.UnexpectedPacketFromServerError,
    EOFError,
    OSError,
)


def _typed_error(error: Exception) -> ClickHouseError:
    if isinstance(error, driver_errors.ServerException):
        if error.code == _TIMEOUT_CODE:
            return QueryTimeout(str(error))
        return QueryError(str(error), code=error.code)
    if isinstance(error, _CONNECTION_ERRORS):
        return ConnectionLost(f"ClickHouse server connection failed: {error}")
    return QueryError(str(error))


def parse_url(url: str) -> dict[str, Any]:
    parsed = urlparse(url)
    if parsed.scheme not in {"clickhouse", "clickhouses"}:
        raise ValueError(f"CLICKHOUSE_URL must start with clickhouse:// or clickhouses://, not {parsed.scheme}://")
    return {
        "host": parsed.hostname or "localhost",
        "port": parsed.port or (9440 if parsed.scheme == "clickhouses" else 9000),
        "user": unquote(parsed.username or "default"),
        "password": unquote(parsed.password or ""),
        "database": parsed.path.lstrip("/") or None,
        "secure": parsed.scheme == "clickhouses",
    }


class ServerBackend:
    name = "clickhouse-server"

    def __init__(
        self,
        url: str,
        database: str,
        *,
        connect_timeout: float,
        query_timeout: float,
        minimum_version: tuple[int, int] | None = MINIMUM_VERSION,
        cluster: str = "",
    ):
        options = parse_url(url)
        self.database = options.pop("database") or database
        self._options = options
        self._connect_timeout = connect_timeout
        self._receive_timeout = query_timeout + 5
        self._minimum_version = minimum_version
        self._local = threading.local()
        self._tags_queries = True
        self._clients: list[Client] = []
        # On a cluster (core.clickhouse.topology): a per-app subquery or join reads each shard's own
        # rows (every row of an app is on one shard), and an insert returns once the shards hold it.
        self._cluster_settings = (
            {"distributed_product_mode": "local", "distributed_foreground_insert": 1} if cluster else {}
        )
        self._clients_lock = threading.Lock()

    def _new_client(self, database: str) -> Client:
        return Client(
            **self._options,
            database=database,
            connect_timeout=self._connect_timeout,
            send_receive_timeout=self._receive_timeout,
            settings={"server_side_params": True},
        )

    def _check_version(self, client: Client) -> None:
        client.execute("SELECT 1")
        info = client.connection.server_info
        version = (info.version_major, info.version_minor)
        self._tags_queries = version >= (21, 1)  # `log_comment` arrived in 21.1
        if self._minimum_version and version < self._minimum_version:
            raise UnsupportedServerVersion(
                f"ClickHouse server {info.version_major}.{info.version_minor}.{info.version_patch} at "
                f"{self._options['host']}:{self._options['port']} is too old: UnMoGrowP needs "
                f"{self._minimum_version[0]}.{self._minimum_version[1]} or newer. Upgrade the server."
            )

    def _client(self) -> Client:
        client = getattr(self._local, "client", None)
        if client is None:
            bootstrap = self._new_client("default")
            try:
                self._check_version(bootstrap)
                bootstrap.execute(f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
            except (*_CONNECTION_ERRORS, driver_errors.ServerException) as error:
                raise _typed_error(error) from error
            finally:
                bootstrap.disconnect()
            client = self._new_client(self.database)
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def _settings(self, timeout: float, tag: str) -> dict[str, Any]:
        settings: dict[str, Any] = {"max_execution_time": timeout, **self._cluster_settings}
        if self._tags_queries:
            settings["log_comment"] = tag
        return settings

    def query(self, sql: str, params: Mapping[str, Any], *, timeout: float, tag: str) -> Result:
        client = self._client()
        try:
            rows, columns = client.execute(
                sql,
                normalize(dict(params)) or None,
                with_column_types=True,
                settings=self._settings(timeout, tag),
            )
        except (*_CONNECTION_ERRORS, driver_errors.Error) as error:
            raise _typed_error(error) from error
        return Result(
            columns=[name for name, _ in columns],
            rows=[tuple(normalize_driver_value(v) for v in row) for row in rows],
            types=[type_name for _, type_name in columns],
        )

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Any],
        *,
        timeout: float,
        tag: str,
        deduplication_token: str | None,
        encoded: bytes | None = None,
        unique: bool = False,
    ) -> None:
        # The native protocol sends typed columns, never JSON: ``encoded`` has no use here.
        client = self._client()
        settings = self._settings(timeout, tag)
        if deduplication_token:
            settings["insert_deduplication_token"] = deduplication_token
        if unique:
            settings["optimize_on_insert"] = 0
        try:
            client.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES",
                [row_values(row, columns) for row in rows],
                settings=settings,
                types_check=True,
            )
        except (*_CONNECTION_ERRORS, driver_errors.Error) as error:
            raise _typed_error(error) from error

    def close(self) -> None:
        with self._clients_lock:
            for client in self._clients:
                client.disconnect()
            self._clients.clear()
        self._local = threading.local()
