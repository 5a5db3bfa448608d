"""The migrations rendered for both topologies: one node (the SQL as written) and a cluster
(CLICKHOUSE_CLUSTER: Replicated local tables and Distributed tables ON CLUSTER). Every rendered
statement is parsed by ClickHouse's own parser (chdb's EXPLAIN AST), and the shapes that matter are
checked: replication paths, sharding by the app, what an ALTER touches."""

import pytest

from core import clickhouse
from core.clickhouse.migrator import LEDGER_DDL, discover, statements
from core.clickhouse.topology import NotRenderable, mutated, render


def every_statement() -> list[str]:
    return [LEDGER_DDL, *(statement for migration in discover() for statement in migration.operations)]


def test_one_node_runs_the_migrations_as_written(settings):
    settings.CLICKHOUSE_CLUSTER = ""
    for statement in every_statement():
        assert render(statement) == [statement]
    assert mutated("events") == "events"


def test_every_migration_renders_for_a_cluster_and_clickhouse_parses_it(settings):
    settings.CLICKHOUSE_CLUSTER = "analytics"
    rendered = [sql for statement in every_statement() for sql in render(statement)]
    assert all("ON CLUSTER 'analytics'" in sql for sql in rendered)
    for sql in rendered:
        clickhouse.execute(f"EXPLAIN AST {sql}", tag="test.topology")  # raises on a syntax error


def test_the_cluster_shapes(settings):
    settings.CLICKHOUSE_CLUSTER = "analytics"
    events = next(m for m in discover() if m.version == 1)
    local, distributed = statements(events)
    assert local.startswith("CREATE TABLE IF NOT EXISTS events_local ON CLUSTER 'analytics' (")
    assert (
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/events_local', '{replica}', "
        "inserted_at)" in local
    )
    assert "PARTITION BY toYYYYMM(timestamp)" in local and "ORDER BY (app_id, event_name, timestamp, event_id)" in local
    assert distributed == (
        "CREATE TABLE IF NOT EXISTS events ON CLUSTER 'analytics' AS events_local "
        "ENGINE = Distributed('analytics', currentDatabase(), events_local, cityHash64(app_id))"
    )
    dead_letters = statements(next(m for m in discover() if m.version == 4))
    assert dead_letters[0].count("ReplicatedReplacingMergeTree(") == 1 and "cityHash64(topic)" in dead_letters[1]
    # An index or a setting is the local table's; a column is both tables'.
    assert render("ALTER TABLE events ADD INDEX IF NOT EXISTS i event_id TYPE minmax GRANULARITY 4") == [
        "ALTER TABLE events_local ON CLUSTER 'analytics' ADD INDEX IF NOT EXISTS i event_id TYPE minmax GRANULARITY 4"
    ]
    assert render("ALTER TABLE events ADD COLUMN IF NOT EXISTS request_id String DEFAULT ''") == [
        "ALTER TABLE events_local ON CLUSTER 'analytics' ADD COLUMN IF NOT EXISTS request_id String DEFAULT ''",
        "ALTER TABLE events ON CLUSTER 'analytics' ADD COLUMN IF NOT EXISTS request_id String DEFAULT ''",
    ]
    assert render("DROP TABLE IF EXISTS events_hourly") == [
        "DROP TABLE IF EXISTS events_hourly ON CLUSTER 'analytics' SYNC",
        "DROP TABLE IF EXISTS events_hourly_local ON CLUSTER 'analytics' SYNC",
    ]
    view = next(s for s in statements(next(m for m in discover() if m.version == 5)) if "MATERIALIZED VIEW" in s)
    assert "TO events_hourly_local AS" in view and "FROM events_local" in view
    # The reports' pre-aggregate: filled on each shard by its events, sharded by the app like them.
    table, distributed, view = statements(next(m for m in discover() if m.version == 41))
    assert "ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/events_activity_local'" in table
    assert "cityHash64(app_id)" in distributed
    assert "TO events_activity_local AS" in view and "FROM events_local" in view
    # The ledger: every node holds it whole.
    (ledger,) = render(LEDGER_DDL)
    assert (
        "clickhouse_migrations ON CLUSTER" in ledger
        and "'/clickhouse/tables/{database}/clickhouse_migrations'" in ledger
    )
    assert mutated("events") == "events_local ON CLUSTER 'analytics'"


def test_a_statement_the_renderer_does_not_know_is_refused(settings):
    settings.CLICKHOUSE_CLUSTER = "analytics"
    with pytest.raises(NotRenderable):
        render("CREATE TABLE IF NOT EXISTS scratch (a UInt8) ENGINE = Memory")
    with pytest.raises(NotRenderable):
        render("RENAME TABLE a TO b")


def test_a_cluster_needs_a_server(settings):
    from attribution.checks import check_clickhouse

    settings.CLICKHOUSE_CLUSTER = "analytics"
    settings.CLICKHOUSE_URL = ""
    assert "attribution.E007" in [error.id for error in check_clickhouse(None)]
