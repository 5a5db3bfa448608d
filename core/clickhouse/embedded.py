"""Embedded backend: chdb, the ClickHouse engine in this process, with its data in one directory.

chdb lets exactly one process open a data directory. The handle is opened lazily, behind a lock, and
the directory is claimed with an OS file lock first, so a second process gets a message that names the
directory and the process holding it instead of chdb's internal error.
"""

import decimal
import fcntl
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from core.clickhouse.backend import Result, row_values
from core.clickhouse.errors import ClickHouseError, EmbeddedStoreLocked, QueryError, QueryTimeout
from core.clickhouse.params import to_parameter_text
from core.clickhouse.types import converter_for

_TIMEOUT_CODE = 159

# Settings fixed for the whole embedded session: results as JSON that converts losslessly.
_SESSION_SETTINGS = "output_format_json_quote_decimals=1&output_format_json_quote_64bit_integers=0"


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError(f"Cannot insert a {type(value).__name__} into ClickHouse.")


def _error_code(message: str) -> int | None:
    if message.startswith("Code: "):
        digits = message[len("Code: ") :].split(".", 1)[0]
        if digits.isdigit():
            return int(digits)
    return None


def _typed_error(error: Exception) -> ClickHouseError:
    message = str(error)
    code = _error_code(message)
    if code == _TIMEOUT_CODE:
        return QueryTimeout(message)
    return QueryError(message, code=code)


class EmbeddedBackend:
    name = "chdb"

    def __init__(self, path: Path, database: str, *, backup_dir: Path | None = None):
        self.path = Path(path)
        self.database = database
        self.backup_dir = backup_dir  # where BACKUP and RESTORE may write and read (core.backups)
        self._session = None
        self._lock_file = None
        self._lock = threading.RLock()
        self._timeout: float | None = None

    def _claim_directory(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.parent / f"{self.path.name}.lock"
        lock_file = open(lock_path, "a+")  # noqa: SIM115 - held open for the process lifetime
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.seek(0)
            holder = lock_file.read().strip() or "unknown"
            lock_file.close()
            raise EmbeddedStoreLocked(
                f"The embedded ClickHouse data directory {self.path} is in use by another process "
                f"(pid {holder}). chdb allows one process per directory: stop that process, or run "
                "everything in one process (the web server runs the outbox drain itself), or set "
                "CLICKHOUSE_URL to use a ClickHouse server."
            ) from None
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(str(os.getpid()))
        lock_file.flush()
        self._lock_file = lock_file

    def _open(self):
        if self._session is None:
            from chdb import session as chdb_session

            self._claim_directory()
            options = _SESSION_SETTINGS
            if self.backup_dir is not None:
                options += f"&backups.allowed_path={self.backup_dir}"
            self._session = chdb_session.Session(f"{self.path}?{options}")
            self._session.query(f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
            self._session.query(f"USE `{self.database}`")
        return self._session

    def _set_timeout(self, session, timeout: float) -> None:
        if timeout != self._timeout:
            session.query(f"SET max_execution_time = {float(timeout)}")
            self._timeout = timeout

    def query(self, sql: str, params: Mapping[str, Any], *, timeout: float, tag: str) -> Result:
        encoded = {name: to_parameter_text(value) for name, value in params.items()}
        with self._lock:
            session = self._open()
            self._set_timeout(session, timeout)
            try:
                raw = session.query(sql, "JSONCompact", params=encoded or None).bytes()
            except RuntimeError as error:
                raise _typed_error(error) from error
        if not raw:
            return Result(columns=[], rows=[])
        payload = orjson.loads(raw)
        columns = [column["name"] for column in payload["meta"]]
        types = [column["type"] for column in payload["meta"]]
        converters = [converter_for(t) for t in types]
        rows = [tuple(c(v) for c, v in zip(converters, row, strict=True)) for row in payload["data"]]
        return Result(columns=columns, rows=rows, types=types)

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
        settings = ["date_time_input_format='best_effort'"]
        if deduplication_token:
            settings.append(f"insert_deduplication_token='{to_parameter_text(deduplication_token)}'")
        if unique:
            settings.append("optimize_on_insert=0")
        if encoded is None:
            encoded = b"\n".join(
                orjson.dumps(dict(zip(columns, row_values(row, columns), strict=True)), default=_json_default)
                for row in rows
            )
        # The rows go to chdb as a stream of bytes, not inside the statement's text, which chdb would
        # have to parse as SQL first.
        statement = f"INSERT INTO {table} ({', '.join(columns)}) SETTINGS {', '.join(settings)}"
        with self._lock:
            session = self._open()
            self._set_timeout(session, timeout)
            inserter = None
            try:
                inserter = session.send_insert(statement, "JSONEachRow")
                inserter.append(encoded)
                inserter.finish()
            except RuntimeError as error:
                if inserter is not None:
                    inserter.cancel()  # nothing to do after a failed finish(); ends an insert a bad append left open
                raise _typed_error(error) from error

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None
                self._timeout = None
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None
