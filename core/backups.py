"""Backups of both stores, and their restore into empty ones.

A backup is a directory ``BACKUP_DIR/<UTC time>/``:

* ``oltp.sqlite3`` (SQLite's online backup: a consistent copy while the server writes) or
  ``oltp.pgdump`` (``pg_dump --format=custom``);
* ``clickhouse/``, written by ClickHouse itself (``BACKUP DATABASE … TO File(…)``, the same SQL for
  chdb and a server);
* ``manifest.json``: when, which database of which kind, and the rows of every table, which the
  restore checks: the OLTP rows exactly (counted in the copy's own snapshot), ClickHouse's at least
  (counted just before its backup, which a running consumer adds to). A table whose engine replaces
  or folds rows is counted as ``FINAL`` reads it, which a background merge does not change; the
  tables the report refresh writes or trims (``_uncounted``: the reports' pre-aggregate, each table
  with a ``generation`` column, which ``refresh_reports --all`` rebuilds, and the change notes) are
  restored but not counted.

The OLTP database is copied first, ClickHouse second: a bus message the outbox still held at the first
copy is either in the second (the consumer stored it meanwhile) or still pending in the restored
outbox, which delivers it again, and the consumer skips rows it stored before. The other order would
lose the messages consumed in between.

``restore`` refuses stores that hold anything: it is for empty ones (a new machine, a drill), never
a way to roll a live system back.
"""

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from core import clickhouse

MANIFEST = "manifest.json"
# Engines that replace or fold rows in background merges (count them as FINAL reads them).
FOLDING = ("ReplacingMergeTree", "AggregatingMergeTree", "SummingMergeTree", "CollapsingMergeTree")
# Trimmed by the report refresh (dashboard/attributed_daily.py), which may run between the count and
# the backup: their counts are not checked, nor those of the tables it writes generations of.
TRIMMED = ("report_changes", "activity_changes")


class BackupError(Exception):
    pass


def _postgres_environment() -> dict[str, str]:
    params = connection.settings_dict
    return {
        **os.environ,
        "PGHOST": str(params["HOST"] or "localhost"),
        "PGPORT": str(params["PORT"] or 5432),
        "PGUSER": str(params["USER"] or ""),
        "PGPASSWORD": str(params["PASSWORD"] or ""),
        "PGDATABASE": str(params["NAME"]),
    }


def _run(command: list[str]) -> None:
    # pg_dump and pg_restore, with arguments from the settings: no shell, nothing from a request.
    done = subprocess.run(command, env=_postgres_environment(), capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()[:2000]}")


def _counted(cursor, tables: list[str]) -> dict[str, int]:
    counts = {}
    for table in sorted(tables):
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        counts[table] = cursor.fetchone()[0]
    return counts


def _oltp_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        return _counted(cursor, connection.introspection.table_names(cursor))


def _sqlite_backup(target: Path) -> dict[str, int]:
    """SQLite's online backup into ``target``; the rows of the copy."""
    source, copy = sqlite3.connect(connection.settings_dict["NAME"]), sqlite3.connect(target)
    try:
        source.backup(copy)
        names = [name for (name,) in copy.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return _counted(copy.cursor(), [name for name in names if not name.startswith("sqlite_")])
    finally:
        copy.close()
        source.close()


def _postgres_backup(target: Path) -> dict[str, int]:
    """pg_dump into ``target`` from a snapshot this transaction exports and counts the rows of."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        counts = _counted(cursor, connection.introspection.table_names(cursor))
        command = ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}"]
        _run([*command, "--file", str(target)])
    return counts


def _clickhouse_tables() -> list[str]:
    result = clickhouse.execute(
        "SELECT name FROM system.tables WHERE database = currentDatabase() AND NOT is_temporary "
        "AND engine NOT IN ('View', 'MaterializedView', 'Memory') ORDER BY name",
        tag="backup.tables",
    )
    return [name for (name,) in result.rows]


def _uncounted() -> set[str]:
    """The tables the report refresh writes generations of or trims (a cluster's ``_local`` tables
    under their own names too)."""
    written = clickhouse.execute(
        "SELECT DISTINCT table FROM system.columns WHERE database = currentDatabase() AND name = 'generation'",
        tag="backup.generations",
    ).rows
    return {table for (table,) in written} | set(TRIMMED) | {f"{table}_local" for table in TRIMMED}


def _clickhouse_counts() -> dict[str, int]:
    engines = dict(
        clickhouse.execute(
            "SELECT name, engine FROM system.tables WHERE database = currentDatabase()", tag="backup.engines"
        ).rows
    )
    uncounted = _uncounted()
    return {
        table: clickhouse.execute(
            f"SELECT count() FROM {table}{' FINAL' if engines[table].endswith(FOLDING) else ''}", tag="backup.count"
        ).scalar()
        for table in _clickhouse_tables()
        if table not in uncounted
    }


def backup(*, to: Path | None = None) -> Path:
    """Back up both stores into a new directory under ``to`` (default BACKUP_DIR); returns it."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = Path(to or settings.BACKUP_DIR).resolve() / stamp
    target.mkdir(parents=True)
    if connection.vendor == "sqlite":
        oltp = "oltp.sqlite3"
        oltp_counts = _sqlite_backup(target / oltp)
    elif connection.vendor == "postgresql":
        oltp = "oltp.pgdump"
        oltp_counts = _postgres_backup(target / oltp)
    else:
        raise BackupError(f"No backup for a {connection.vendor} database.")
    clickhouse_counts = _clickhouse_counts()
    clickhouse.execute(
        f"BACKUP DATABASE {settings.CLICKHOUSE_DATABASE} TO File('{target / 'clickhouse'}')",
        tag="backup.clickhouse",
        timeout=24 * 3600,
    )
    manifest = {
        "created_at": stamp,
        "oltp": {"vendor": connection.vendor, "file": oltp, "rows": oltp_counts},
        "clickhouse": {"database": settings.CLICKHOUSE_DATABASE, "rows": clickhouse_counts},
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return target


def restore(*, source: Path) -> dict:
    """Restore the backup at ``source`` into the configured stores, which must be empty, and check
    that every table holds the rows the manifest says. Returns the manifest."""
    source = Path(source).resolve()
    manifest = json.loads((source / MANIFEST).read_text())
    if manifest["oltp"]["vendor"] != connection.vendor:
        raise BackupError(f"The backup is of a {manifest['oltp']['vendor']} database; this is {connection.vendor}.")
    with connection.cursor() as cursor:
        if connection.introspection.table_names(cursor):
            raise BackupError("The OLTP database is not empty: restore only into an empty one.")
    if _clickhouse_tables():
        raise BackupError(
            f"ClickHouse database {settings.CLICKHOUSE_DATABASE} is not empty: restore only into an empty one."
        )
    if connection.vendor == "sqlite":
        connection.close()
        shutil.copyfile(source / manifest["oltp"]["file"], connection.settings_dict["NAME"])
    else:
        _run(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--dbname",
                connection.settings_dict["NAME"],
                str(source / manifest["oltp"]["file"]),
            ]
        )
    clickhouse.execute(
        f"RESTORE DATABASE {manifest['clickhouse']['database']} AS {settings.CLICKHOUSE_DATABASE} "
        f"FROM File('{source / 'clickhouse'}')",
        tag="restore.clickhouse",
        timeout=24 * 3600,
    )
    found = {"oltp": _oltp_counts(), "clickhouse": _clickhouse_counts()}
    short = {
        f"{store}.{table}": (rows, found[store].get(table))
        for store in ("oltp", "clickhouse")
        for table, rows in manifest[store]["rows"].items()
        if (found[store].get(table) != rows if store == "oltp" else (found[store].get(table) or 0) < rows)
    }
    if short:
        raise BackupError(f"The restored stores differ from the backup (table: (backed up, restored)): {short}")
    return manifest
