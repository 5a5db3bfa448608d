"""Typed ClickHouse failures, the same for both backends, so callers can decide what to retry."""


class ClickHouseError(Exception):
    """Base class: every failure of the ClickHouse layer is one of these."""


class ConnectionLost(ClickHouseError):
    """The server could not be reached or the connection broke; the query may be retried."""


class QueryError(ClickHouseError):
    """ClickHouse rejected the query (syntax, unknown table, bad parameter...): retrying will not help."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class QueryTimeout(ClickHouseError):
    """The query ran longer than its timeout and was cancelled by ClickHouse."""


class UnsupportedServerVersion(ClickHouseError):
    """The server is older than the minimum version this product supports."""


class EmbeddedStoreLocked(ClickHouseError):
    """Another process already owns the embedded (chdb) data directory."""
