"""The one way to talk to ClickHouse: ``execute`` for queries, ``insert`` for rows.

Every call carries a tag (used in metrics, logs and the server's query log), values only as
``{name:Type}`` parameters, and a timeout. The backend (embedded chdb or a server) is chosen by
settings and created lazily, once per process.
"""

import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings

from core.clickhouse.backend import Backend, Result
from core.clickhouse.errors import ClickHouseError
from core.metrics import CLICKHOUSE_ERRORS, CLICKHOUSE_QUERY_SECONDS

logger = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TAG = re.compile(r"^[a-z0-9_.:-]{1,64}$")
_DEDUP_TOKEN = re.compile(r"^[A-Za-z0-9_.:/-]{1,256}$")

_backend: Backend | None = None
_backend_lock = threading.Lock()


def build_backend() -> Backend:
    """The backend the settings ask for (not cached: use ``get_backend`` in application code)."""
    if settings.CLICKHOUSE_URL:
        from core.clickhouse.server import ServerBackend

        return ServerBackend(
            settings.CLICKHOUSE_URL,
            settings.CLICKHOUSE_DATABASE,
            connect_timeout=settings.CLICKHOUSE_CONNECT_TIMEOUT_SECONDS,
            query_timeout=settings.CLICKHOUSE_QUERY_TIMEOUT_SECONDS,
            cluster=settings.CLICKHOUSE_CLUSTER,
        )
    from core.clickhouse.embedded import EmbeddedBackend

    return EmbeddedBackend(
        settings.CLICKHOUSE_EMBEDDED_PATH, settings.CLICKHOUSE_DATABASE, backup_dir=settings.BACKUP_DIR
    )


def get_backend() -> Backend:
    global _backend
    if _backend is None:
        with _backend_lock:
            if _backend is None:
                _backend = build_backend()
    return _backend


def reset_backend() -> None:
    """Close the process's backend; the next call builds it again from settings."""
    global _backend
    with _backend_lock:
        if _backend is not None:
            _backend.close()
        _backend = None


def _check_tag(tag: str) -> None:
    if not _TAG.match(tag):
        raise ValueError(f"Query tag {tag!r} must match {_TAG.pattern}.")


def _timed(tag: str, call):
    started = time.perf_counter()
    try:
        return call()
    except ClickHouseError as error:
        CLICKHOUSE_ERRORS.labels(tag, type(error).__name__).inc()
        logger.warning("clickhouse %s failed: %s: %s", tag, type(error).__name__, str(error)[:500])
        raise
    finally:
        CLICKHOUSE_QUERY_SECONDS.labels(tag).observe(time.perf_counter() - started)


def execute(
    sql: str,
    params: Mapping[str, Any] | None = None,
    *,
    tag: str,
    timeout: float | None = None,
    backend: Backend | None = None,
) -> Result:
    """Run one statement. Values go in ``params`` and are referenced as ``{name:Type}`` in ``sql``."""
    _check_tag(tag)
    chosen = backend or get_backend()
    limit = timeout or settings.CLICKHOUSE_QUERY_TIMEOUT_SECONDS
    return _timed(tag, lambda: chosen.query(sql, params or {}, timeout=limit, tag=tag))


class JsonLines:
    """Rows already encoded as JSON objects keyed by column, one per line (e.g. as they came off the
    bus): the JSON-lines body the embedded backend inserts, joined when this is made. A caller can so
    build it ahead of the insert, on another thread than the one that inserts."""

    def __init__(self, lines: Sequence[bytes]):
        self.count = len(lines)
        self.body = b"\n".join(lines)


def insert(
    table: str,
    rows: Sequence[Any],
    *,
    columns: Sequence[str],
    tag: str,
    deduplication_token: str | None = None,
    timeout: float | None = None,
    backend: Backend | None = None,
    encoded: Sequence[bytes] | JsonLines | None = None,
    unique: bool = False,
) -> None:
    """Insert rows (mappings keyed by column, or objects with an attribute per column) in one batch.
    The same token twice inserts once. ``encoded``, when given, holds the same rows already encoded
    as JSON objects keyed by column (lines, or ``JsonLines`` built ahead): the embedded backend
    inserts those bytes as they are instead of encoding the rows again; the native protocol of the
    server backend takes the values of ``rows``.
    ``unique``: the caller knows no two rows share the table's sorting key, so ClickHouse skips
    collapsing them on the way in (``optimize_on_insert``, a good part of a large insert's time);
    merges still collapse copies across inserts."""
    if encoded is not None and not isinstance(encoded, JsonLines):
        encoded = JsonLines(encoded)
    if encoded is not None and encoded.count != len(rows):
        raise ValueError(f"{encoded.count} encoded rows for {len(rows)} rows.")
    _check_tag(tag)
    for name in (table, *columns):
        if not _IDENTIFIER.match(name):
            raise ValueError(f"{name!r} is not a plain ClickHouse identifier.")
    if deduplication_token is not None and not _DEDUP_TOKEN.match(deduplication_token):
        raise ValueError(f"Deduplication token {deduplication_token!r} must match {_DEDUP_TOKEN.pattern}.")
    if not rows:
        return
    chosen = backend or get_backend()
    limit = timeout or settings.CLICKHOUSE_QUERY_TIMEOUT_SECONDS
    _timed(
        tag,
        lambda: chosen.insert(
            table,
            columns,
            rows,
            timeout=limit,
            tag=tag,
            deduplication_token=deduplication_token,
            encoded=None if encoded is None else encoded.body,
            unique=unique,
        ),
    )
