"""ClickHouse access for the whole product. Import from here, nowhere deeper."""

from core.clickhouse.backend import Result
from core.clickhouse.client import JsonLines, execute, get_backend, insert, reset_backend
from core.clickhouse.errors import (
    ClickHouseError,
    ConnectionLost,
    EmbeddedStoreLocked,
    QueryError,
    QueryTimeout,
    UnsupportedServerVersion,
)

__all__ = [
    "ClickHouseError",
    "ConnectionLost",
    "EmbeddedStoreLocked",
    "JsonLines",
    "QueryError",
    "QueryTimeout",
    "Result",
    "UnsupportedServerVersion",
    "execute",
    "get_backend",
    "insert",
    "reset_backend",
]
