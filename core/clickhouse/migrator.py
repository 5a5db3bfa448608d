"""Versioned ClickHouse schema migrations (see migrations/README.md for the rules).

A migration is a module ``migrations/NNNN_name.py`` with ``OPERATIONS``, a list of SQL statements
written for one node; on a cluster each is rendered ON CLUSTER (``core.clickhouse.topology``).
Applied versions are recorded, with a checksum of their SQL, in the ``clickhouse_migrations`` table.
"""

import hashlib
import importlib
import pkgutil
import re
from dataclasses import dataclass

from core.clickhouse import migrations as migrations_package
from core.clickhouse.client import execute, insert
from core.clickhouse.topology import render

_MODULE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)$")

LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS clickhouse_migrations
(
    version UInt32,
    name String,
    checksum FixedString(64),
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version
"""


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    operations: tuple[str, ...]

    @property
    def checksum(self) -> str:
        return hashlib.sha256("\n;\n".join(self.operations).encode()).hexdigest()

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


def discover() -> list[Migration]:
    found = []
    for module_info in pkgutil.iter_modules(migrations_package.__path__):
        match = _MODULE_NAME.match(module_info.name)
        if not match:
            continue
        module = importlib.import_module(f"{migrations_package.__name__}.{module_info.name}")
        found.append(Migration(int(match.group(1)), match.group(2), tuple(module.OPERATIONS)))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"Two ClickHouse migrations share a version number: {versions}")
    return found


def applied_checksums() -> dict[int, str]:
    for statement in render(LEDGER_DDL):
        execute(statement, tag="migrations.ledger")
    result = execute("SELECT version, checksum FROM clickhouse_migrations FINAL", tag="migrations.applied")
    return {version: checksum for version, checksum in result.rows}


def plan() -> list[Migration]:
    """Migrations not applied yet, in order. Refuses when an applied migration was edited since."""
    applied = applied_checksums()
    pending = []
    for migration in discover():
        if migration.version not in applied:
            pending.append(migration)
        elif applied[migration.version] != migration.checksum:
            raise MigrationError(
                f"ClickHouse migration {migration.label} was changed after it was applied. "
                "Applied migrations are never edited: revert the change and add a new migration."
            )
    return pending


def statements(migration: Migration) -> list[str]:
    """The migration's SQL as this topology runs it (core.clickhouse.topology)."""
    return [rendered for statement in migration.operations for rendered in render(statement)]


def apply(migration: Migration) -> None:
    for statement in statements(migration):
        execute(statement, tag=f"migrations.{migration.version:04d}")
    insert(
        "clickhouse_migrations",
        [{"version": migration.version, "name": migration.name, "checksum": migration.checksum}],
        columns=["version", "name", "checksum"],
        tag="migrations.record",
    )
