"""ClickHouse access for the whole product. Import from here, nowhere deeper."""

from .backend import Result
from .client import JsonLines, execute, get_backend, insert, reset_backend
from .errors import (
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
