"""The ClickHouse layer on the embedded engine (chdb): schema, values, parameters, errors, locking."""

import datetime as dt
import decimal
import uuid

import orjson
import pytest
from django.core.management import call_command

from core import clickhouse
from core.clickhouse import migrator
from tests.conftest import run_manage

EVENT_COLUMNS = [
    "app_id",
    "event_id",
    "event_name",
    "timestamp",
    "received_at",
    "clock_skew_ms",
    "user_id",
    "session_id",
    "device_id",
    "device_ids",
    "platform",
    "app_version",
    "os_name",
    "os_version",
    "device_model",
    "locale",
    "country",
    "ip_prefix",
    "user_agent",
    "attribution",
    "revenue",
    "currency",
    "properties",
    "consent",
]


def full_event(app_id: uuid.UUID, **overrides) -> dict:
    row = {
        "app_id": app_id,
        "event_id": uuid.uuid4(),
        "event_name": "purchase",
        "timestamp": dt.datetime(2026, 3, 29, 1, 30, 15, 123000, tzinfo=dt.UTC),
        "received_at": dt.datetime(2026, 3, 29, 1, 30, 16, 456000, tzinfo=dt.UTC),
        "clock_skew_ms": -1333,
        "user_id": "u_9f2c",
        "session_id": "s-1",
        "device_id": "dev-1",
        "device_ids": {"idfa": "AEBE52E7-03EE-455A-B3C4-E57283966239", "idfv": "v-2"},
        "platform": "ios",
        "app_version": "3.2.1",
        "os_name": "iOS",
        "os_version": "18.1",
        "device_model": "iPhone16,2",
        "locale": "de_DE",
        "country": "DE",
        "ip_prefix": "203.0.113.0",
        "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X)",
        "attribution": {"source": "meta", "campaign": 'spring "sale"', "click_id": "c1"},
        "revenue": decimal.Decimal("19.990000"),
        "currency": "EUR",
        "properties": {"sku": "pro-annual", "note": "tab\there\nnewline\\backslash'quote"},
        "consent": True,
    }
    row.update(overrides)
    return row


def read_events(app_id: uuid.UUID) -> list[dict]:
    result = clickhouse.execute(
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM events FINAL WHERE app_id = {{app_id:UUID}} ORDER BY event_id",
        {"app_id": app_id},
        tag="test.read_events",
    )
    return result.dicts()


def test_migrations_are_idempotent(capsys):
    call_command("migrate_clickhouse")
    call_command("migrate_clickhouse")
    assert "up to date" in capsys.readouterr().out
    assert migrator.plan() == []
    applied = clickhouse.execute("SELECT count() FROM clickhouse_migrations FINAL", tag="test").scalar()
    assert applied == len(migrator.discover())


def test_an_applied_migration_that_was_edited_is_refused(monkeypatch):
    original = migrator.discover()
    edited = [migrator.Migration(m.version, m.name, (*m.operations, "SELECT 1")) for m in original]
    monkeypatch.setattr(migrator, "discover", lambda: edited)
    with pytest.raises(migrator.MigrationError, match="changed after it was applied"):
        migrator.plan()


def test_every_events_column_round_trips(app_id):
    row = full_event(app_id)
    clickhouse.insert("events", [row], columns=EVENT_COLUMNS, tag="test.insert")
    assert read_events(app_id) == [row]


def test_sql_inside_a_parameter_is_stored_and_read_as_data(app_id):
    hostile = "' OR 1=1 --"
    clickhouse.insert(
        "events", [full_event(app_id, user_id=hostile), full_event(app_id)], columns=EVENT_COLUMNS, tag="t"
    )
    result = clickhouse.execute(
        "SELECT user_id FROM events WHERE app_id = {app_id:UUID} AND user_id = {user:String}",
        {"app_id": app_id, "user": hostile},
        tag="test.injection",
    )
    assert result.rows == [(hostile,)]


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        ("plain", "String"),
        ("tab\tnew\nline\\back'quote\"", "String"),
        ("", "String"),
        (2**63 + 5, "UInt64"),
        (-42, "Int64"),
        (1.25, "Float64"),
        (decimal.Decimal("1234.500001"), "Decimal(18, 6)"),
        (dt.datetime(2026, 10, 25, 0, 59, 59, 999000, tzinfo=dt.UTC), "DateTime64(3, 'UTC')"),
        (dt.date(2026, 2, 28), "Date"),
        (uuid.UUID("6e1f0e36-5e67-4f2a-8a59-0a0c9d1a0b1c"), "UUID"),
        (["a", "b'c", "d\te"], "Array(String)"),
        ({"k": "v'1"}, "Map(String, String)"),
        (None, "Nullable(String)"),
    ],
)
def test_parameter_values_come_back_unchanged(value, type_name):
    result = clickhouse.execute(f"SELECT {{v:{type_name}}} AS v", {"v": value}, tag="test.params")
    assert result.scalar() == value


def test_bad_sql_raises_a_typed_error():
    with pytest.raises(clickhouse.QueryError) as caught:
        clickhouse.execute("SELEC 1", tag="test.bad_sql")
    assert caught.value.code == 62


def test_unknown_table_raises_a_typed_error():
    with pytest.raises(clickhouse.QueryError) as caught:
        clickhouse.execute("SELECT * FROM no_such_table", tag="test.bad_table")
    assert caught.value.code == 60


def test_a_slow_query_raises_query_timeout():
    with pytest.raises(clickhouse.QueryTimeout):
        clickhouse.execute("SELECT count() FROM system.numbers", tag="test.timeout", timeout=0.3)
    assert clickhouse.execute("SELECT 1", tag="test.after_timeout").scalar() == 1


def test_the_same_deduplication_token_inserts_once(app_id):
    row = full_event(app_id)
    for _ in range(3):
        clickhouse.insert("events", [row], columns=EVENT_COLUMNS, tag="t", deduplication_token=f"test:{app_id}")
    count = clickhouse.execute(
        "SELECT count() FROM events WHERE app_id = {a:UUID}", {"a": app_id}, tag="test.count"
    ).scalar()
    assert count == 1


@pytest.mark.parametrize("encoding", ["rows", "JSON lines", "JsonLines built ahead"])
def test_rows_given_as_values_or_as_json_lines_are_stored_alike(app_id, encoding):
    rows = [full_event(app_id) for _ in range(3)]
    lines = [orjson.dumps(r, default=str) for r in rows]
    encoded = {"rows": None, "JSON lines": lines, "JsonLines built ahead": clickhouse.JsonLines(lines)}[encoding]
    clickhouse.insert("events", rows, columns=EVENT_COLUMNS, encoded=encoded, tag="t")
    stored = clickhouse.execute(
        "SELECT event_id, user_id FROM events WHERE app_id = {a:UUID}", {"a": app_id}, tag="test.encoded"
    ).rows
    assert sorted(stored) == sorted((r["event_id"], r["user_id"]) for r in rows)


def test_encoded_rows_must_be_as_many_as_the_rows():
    with pytest.raises(ValueError, match="2 encoded rows for 1 rows"):
        clickhouse.insert("events", [{}], columns=["app_id"], encoded=[b"{}", b"{}"], tag="t")


def test_a_consumer_refuses_to_start_before_the_clickhouse_migrations_it_writes_for(tmp_path):
    result = run_manage("consume_events", "--metrics-port", "0", env={"VAR_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert "ClickHouse migrations not applied: 0001" in result.stderr and "migrate_clickhouse first" in result.stderr


@pytest.mark.parametrize("name", ["events; DROP TABLE events", "events`", "1events"])
def test_insert_refuses_identifiers_that_are_not_plain(name):
    with pytest.raises(ValueError, match="not a plain ClickHouse identifier"):
        clickhouse.insert(name, [{"a": 1}], columns=["a"], tag="t")


def test_a_second_process_gets_a_clear_message_naming_the_directory(clickhouse_test_store):
    clickhouse.execute("SELECT 1", tag="test.hold")  # this process owns the directory now
    result = run_manage("migrate_clickhouse", env={"VAR_DIR": str(clickhouse_test_store)})
    assert result.returncode != 0
    assert str(clickhouse_test_store / "clickhouse") in result.stderr
    assert "in use by another process" in result.stderr
    assert "Traceback" not in result.stderr


AT = dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)  # 02:30 in Berlin, an hour after clocks went forward


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("toTimeZone({t:DateTime64(3, 'UTC')}, 'Europe/Berlin')", AT),
        ("toTimeZone(toDateTime({t:DateTime64(3, 'UTC')}), 'Asia/Kolkata')", AT),
        # 60 days before, in winter time: Berlin's day began at 23:00 UTC the evening before
        (
            "toStartOfDay({t:DateTime64(3, 'UTC')} - INTERVAL 60 DAY, 'Europe/Berlin')",
            dt.datetime(2026, 1, 27, 23, 0, tzinfo=dt.UTC),
        ),
    ],
)
def test_a_datetime_of_any_time_zone_comes_back_as_the_same_instant_in_utc(expression, expected):
    value = clickhouse.execute(f"SELECT {expression}", {"t": AT}, tag="test.time_zones").scalar()
    assert value == expected
    assert value.tzinfo == dt.UTC
