"""Where the tables are: one ClickHouse node (or chdb), or a cluster (CLICKHOUSE_CLUSTER set).

On a cluster every table of the migrations is two: ``<name>_local``, a Replicated*MergeTree on each
node (ON CLUSTER), holding one shard's rows, and ``<name>``, a Distributed table over them, which
every query and insert of the product names as before. Rows are sharded by the first column of the
table's sorting key — the app for every per-app table — so every row of an app, and every copy of
a row that ReplacingMergeTree collapses, lives on one shard; per-app joins then stay on the shard
(the server backend sets ``distributed_product_mode='local'``, and ``distributed_foreground_insert``
so that an insert returns once the shards have it). The migrations ledger is replicated to every
node whole. The migrations are written for one node and rendered here for a cluster (``render``):
the checksum of an applied migration is that of its one-node text, so both topologies share one
history.

Mutations and partition operations (erasure, retention) act on the local tables: ``mutated``.
"""

import re

from django.conf import settings

# Replicated on every node whole, never sharded.
UNSHARDED = {"clickhouse_migrations"}

_CREATE_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)\s*\(")
_ENGINE = re.compile(r"ENGINE\s*=\s*(\w+)")
_ORDER_BY = re.compile(r"ORDER BY \(?\s*(\w+)")
_ALTER = re.compile(r"ALTER TABLE (\w+) (.+)", re.S)
_COLUMN_ACTION = re.compile(r"(ADD|DROP|MODIFY|RENAME|COMMENT|CLEAR) COLUMN\b")
_DROP = re.compile(r"DROP (TABLE|VIEW) IF EXISTS (\w+)")
_VIEW = re.compile(r"CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS\s+(.+)", re.S)


class NotRenderable(ValueError):
    """A statement this module does not know how to run on a cluster: write it so it does."""


def cluster() -> str:
    return settings.CLICKHOUSE_CLUSTER


def mutated(table: str) -> str:
    """The table as an ALTER ... DELETE, a lightweight DELETE or a partition operation names it."""
    name = cluster()
    return f"{table}_local ON CLUSTER '{name}'" if name else table


def _closing(text: str, opening: int) -> int:
    """The index of the parenthesis that closes the one at ``opening``."""
    depth = 0
    for index in range(opening, len(text)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            return index
    raise NotRenderable(f"unbalanced parentheses in: {text[:80]}")


def _create_table(statement: str, name: str, on: str) -> list[str]:
    opening = statement.index("(", statement.index(name))
    closing = _closing(statement, opening)
    columns, rest = statement[opening : closing + 1], statement[closing + 1 :].strip()
    engine = _ENGINE.match(rest)
    if engine is None or not engine.group(1).endswith("MergeTree"):
        raise NotRenderable(f"{name}: only MergeTree-family tables are rendered for a cluster")
    after = rest[engine.end() :]
    arguments = ""
    if after.startswith("("):
        end = _closing(after, 0)
        arguments, after = after[1:end].strip(), after[end + 1 :]
    local = name if name in UNSHARDED else f"{name}_local"
    path = (
        f"/clickhouse/tables/{{database}}/{local}"
        if name in UNSHARDED
        else f"/clickhouse/tables/{{shard}}/{{database}}/{local}"
    )
    replicated = f"Replicated{engine.group(1)}('{path}', '{{replica}}'{', ' + arguments if arguments else ''})"
    statements = [f"CREATE TABLE IF NOT EXISTS {local} ON CLUSTER '{on}' {columns} ENGINE = {replicated}{after}"]
    if name not in UNSHARDED:
        key = _ORDER_BY.search(after)
        if key is None:
            raise NotRenderable(f"{name}: no ORDER BY to shard by")
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {name} ON CLUSTER '{on}' AS {local} "
            f"ENGINE = Distributed('{on}', currentDatabase(), {local}, cityHash64({key.group(1)}))"
        )
    return statements


def render(statement: str) -> list[str]:
    """The statements that apply a migration's ``statement`` on the configured topology."""
    on = cluster()
    if not on:
        return [statement]
    text = statement.strip()
    if match := _CREATE_TABLE.match(text):
        return _create_table(text, match.group(1), on)
    if match := _ALTER.fullmatch(text):
        table, action = match.groups()
        local = table if table in UNSHARDED else f"{table}_local"
        statements = [f"ALTER TABLE {local} ON CLUSTER '{on}' {action}"]
        if _COLUMN_ACTION.match(action) and table not in UNSHARDED:  # the Distributed table's columns too
            statements.append(f"ALTER TABLE {table} ON CLUSTER '{on}' {action}")
        return statements
    if match := _DROP.fullmatch(text):
        kind, name = match.groups()
        if kind == "VIEW":
            return [f"DROP VIEW IF EXISTS {name} ON CLUSTER '{on}' SYNC"]
        return [f"DROP TABLE IF EXISTS {table} ON CLUSTER '{on}' SYNC" for table in (name, f"{name}_local")]
    if match := _VIEW.fullmatch(text):
        view, target, select = match.groups()
        select = re.sub(r"\bFROM (\w+)", r"FROM \1_local", select)
        return [f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view} ON CLUSTER '{on}' TO {target}_local AS {select}"]
    raise NotRenderable(f"No cluster rendering for: {text[:80]}")
