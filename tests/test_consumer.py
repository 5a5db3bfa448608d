"""The consumer (events.consumer) on the outbox bus and the session's chdb store: every accepted row
stored once or dead-lettered with its reason, commits only after the insert, redeliveries and
events sent again counted once."""

import datetime as dt
import decimal
import threading
import uuid

import msgspec
import pytest
from django.db import connection

from core import clickhouse
from core.clickhouse.backend import row_values
from core.metrics import CONSUMER_DUPLICATES
from events.bus import Delivery, Message
from events.bus.outbox import OutboxBus
from events.bus.topics import EVENTS
from events.consumer import dead_letters as dead_letter_store
from events.consumer import runner, writer
from events.consumer.runner import TopicConsumer
from events.consumer.writer import DecodedRows, TableWriter
from events.models import OutboxMessage
from events.rows import EventRow
from tests.ingestion import count, stored_events

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)
MONTH_END = dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.UTC)


def row(app_id: uuid.UUID, **fields) -> dict:
    """An ``events`` row as ingestion publishes it."""
    return {
        **msgspec.structs.asdict(
            EventRow(
                app_id=app_id,
                event_id=uuid.uuid4(),
                event_name="open",
                timestamp=AT,
                received_at=AT,
                clock_skew_ms=0,
                user_id="u1",
                session_id="",
                device_id="d1",
                device_ids={"idfa": "d1"},
                platform="ios",
                app_version="1.0",
                os_name="iOS",
                os_version="18.1",
                device_model="iPhone",
                locale="",
                country="",
                ip_prefix="203.0.113.0",
                user_agent="test",
                attribution={},
                revenue=decimal.Decimal(0),
                currency="",
                properties={},
                consent=True,
            )
        ),
        **fields,
    }


def message(*rows: dict | bytes) -> Message:
    lines = [r if isinstance(r, bytes) else msgspec.json.encode(r) for r in rows]
    return Message(key="k", value=b"\n".join(lines))


def consumer(bus: OutboxBus, **options) -> TopicConsumer:
    return TopicConsumer(bus.subscribe(EVENTS, "g"), EVENTS, max_wait=0, **options)


def dead_letters(app_id: uuid.UUID) -> list[tuple[str, str]]:
    return clickhouse.execute(
        "SELECT payload, reason FROM dead_letters WHERE position(payload, {a:String}) > 0 ORDER BY payload",
        {"a": str(app_id)},
        tag="test.dead_letters",
    ).rows


@pytest.fixture
def bus():
    OutboxMessage.objects.filter(topic=EVENTS).delete()  # what other tests left on the topic
    return OutboxBus(lease_seconds=30)


def test_each_bad_line_is_dead_lettered_with_its_reason_and_the_good_lines_of_its_message_stored(bus, app_id):
    good = [row(app_id) for _ in range(3)]
    missing = {k: v for k, v in row(app_id).items() if k != "timestamp"}  # ClickHouse would store 1970
    null_app = {**row(app_id), "app_id": None, "user_id": str(app_id)}  # ClickHouse would store the nil app
    unknown = row(app_id, colour="red")  # ClickHouse would drop the field
    bad = [b'{"app_id": "' + str(app_id).encode() + b'", not json', missing, null_app, unknown]
    bus.publish(EVENTS, [message(good[0], *bad[:2], good[1]), message(*bad[2:], good[2])])

    assert consumer(bus).drain(max_seconds=30) == 2
    assert count("events", app_id) == 3
    stored = clickhouse.execute("SELECT event_id FROM events WHERE app_id = {a:UUID}", {"a": app_id}, tag="test").rows
    assert {event_id for (event_id,) in stored} == {r["event_id"] for r in good}
    dead = dead_letters(app_id)
    assert len(dead) == 4 and all("does not fit events" in reason for _, reason in dead)
    assert sorted(payload for payload, _ in dead) == sorted(
        (b if isinstance(b, bytes) else msgspec.json.encode(b)).decode() for b in bad
    )
    assert OutboxMessage.objects.filter(topic=EVENTS).count() == 0


def test_a_line_without_its_defaulted_fields_means_the_same_to_the_consumer_and_to_clickhouse(bus, app_id):
    bare = EventRow(app_id=app_id, event_id=uuid.uuid4(), event_name="open", timestamp=AT, received_at=AT)
    line = msgspec.json.encode(bare)
    assert b"user_id" not in line and b"revenue" not in line, "defaults are not written to the bus"
    bus.publish(EVENTS, [message(line)])

    assert consumer(bus).drain(max_seconds=30) == 1
    (stored,) = stored_events(app_id, *EventRow.__struct_fields__)
    assert stored == msgspec.structs.asdict(bare)


def test_a_row_clickhouse_refuses_is_found_in_few_inserts_and_the_rest_of_the_batch_stored(bus, app_id, monkeypatch):
    inserts = []
    real_insert = clickhouse.insert
    monkeypatch.setattr(
        clickhouse, "insert", lambda table, rows, **kw: (inserts.append(table), real_insert(table, rows, **kw))
    )
    rows = [row(app_id) for _ in range(256)]
    rows[77]["revenue"] = "1000000000000000"  # a valid Decimal, too big for Decimal(18, 6)
    bus.publish(EVENTS, [message(*rows[i : i + 32]) for i in range(0, 256, 32)])

    consumer(bus).drain(max_seconds=30)
    assert count("events", app_id) == 255
    [(payload, reason)] = dead_letters(app_id)
    assert payload == msgspec.json.encode(rows[77]).decode() and "ClickHouse refused the row" in reason
    assert inserts.count("events") <= 2 * 8 + 1  # halving: about two inserts per level, not one per row


def test_a_batch_stored_but_not_committed_is_delivered_again_and_stored_once(bus, app_id):
    """The consumer killed between its insert and its commit: the next one gets the batch again."""
    rows = [row(app_id) for _ in range(50)]
    short_lease = OutboxBus(lease_seconds=0.05)
    short_lease.publish(EVENTS, [message(*rows[i : i + 10]) for i in range(0, 50, 10)])
    killed = consumer(short_lease)
    killed.writer.write(killed.writer.prepare(killed.subscription.poll(3, timeout=0)))  # 30 rows, no commit
    assert count("events", app_id) == 30

    threading.Event().wait(0.1)  # the dead consumer's lease runs out
    assert consumer(bus).drain(max_seconds=30) == 5
    assert count("events", app_id) == 50
    assert OutboxMessage.objects.filter(topic=EVENTS).count() == 0


class Killed(BaseException):
    """The consumer's process dies here: nothing in it runs on (no handler catches a BaseException)."""


def kill_at(monkeypatch, target, name: str, when=lambda *args: True):
    """Make ``target.name`` kill the consumer when it is called with arguments that ``when`` accepts."""
    real = getattr(target, name)

    def dying(*args, **kwargs):
        if when(*args):
            raise Killed(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, dying)


def test_a_consumer_killed_between_insert_and_commit_stores_each_row_once(bus, app_id, monkeypatch):
    # The first batch (60 rows) spans two months: two inserts, each with its own token.
    rows = [row(app_id, timestamp=MONTH_END + dt.timedelta(minutes=i)) for i in range(90)]
    short_lease = OutboxBus(lease_seconds=0.05)
    short_lease.publish(EVENTS, [message(*rows[i : i + 30]) for i in range(0, 90, 30)])
    dying = consumer(short_lease, batch_size=2)
    with monkeypatch.context() as patch:
        kill_at(patch, dying.subscription, "commit")
        with pytest.raises(Killed):
            dying.drain(max_seconds=30)
    assert count("events", app_id) == 60, "the first batch's rows are stored, not committed"

    threading.Event().wait(0.1)  # the dead consumer's lease runs out
    assert consumer(bus).drain(max_seconds=30) == 3
    assert count("events", app_id) == 90
    per_month = clickhouse.execute(
        "SELECT toYYYYMM(timestamp) AS month, count() FROM events FINAL WHERE app_id = {a:UUID} GROUP BY month "
        "ORDER BY month",
        {"a": app_id},
        tag="test.months",
    ).rows
    assert [n for _, n in per_month] == [30, 60]


def test_a_timestamp_with_an_offset_is_inserted_with_the_month_clickhouse_files_it_under(bus, app_id):
    # 01:30 on 1 November at UTC+2 is 23:30 on 31 October in UTC: ClickHouse files the row under
    # October, and the consumer, which splits its inserts by month, must insert it with October's.
    local = row(app_id, timestamp="2026-11-01T01:30:00+02:00", received_at="2026-11-01T01:30:00+02:00")
    bus.publish(EVENTS, [message(local, row(app_id, timestamp=AT))])
    assert consumer(bus).drain(max_seconds=30) == 1
    assert count("events", app_id) == 2
    months = clickhouse.execute(
        "SELECT DISTINCT _partition_id FROM events WHERE app_id = {a:UUID} ORDER BY 1", {"a": app_id}, tag="t"
    ).rows
    assert months == [("202610",), ("202611",)]


def test_an_event_twice_in_one_batch_is_stored_once_from_its_first_line(bus, app_id):
    """Within a batch, a key already taken by an earlier message, or earlier in the same message,
    is skipped: the first line of each key is the one stored."""
    a, b, c = row(app_id, user_id="a"), row(app_id, user_id="b"), row(app_id, user_id="c")
    b_again, c_again = {**b, "user_id": "b again"}, {**c, "user_id": "c again"}
    bus.publish(EVENTS, [message(a, b), message(b_again, c, c_again), message(row(app_id, user_id="d"))])
    assert consumer(bus).drain(max_seconds=30) == 3
    stored = clickhouse.execute("SELECT user_id FROM events WHERE app_id = {a:UUID}", {"a": app_id}, tag="test").rows
    assert sorted(user for (user,) in stored) == ["a", "b", "c", "d"]


def test_an_event_sent_again_in_a_later_batch_is_counted_once(bus, app_id):
    """A client that did not hear back sends the event again, later: a different request, message,
    batch, and timestamp. It must be stored once."""
    first = row(app_id, event_name="purchase", revenue="4.99", currency="USD")
    again = {**first, "timestamp": (AT + dt.timedelta(hours=1)).isoformat(), "received_at": AT.isoformat()}
    duplicates = CONSUMER_DUPLICATES.labels(EVENTS)._value.get()
    bus.publish(EVENTS, [message(first, row(app_id)), message(row(app_id), again), message(row(app_id))])
    # One message per batch: the second batch is checked while the third is being read, right after
    # the first is written.
    assert consumer(bus, batch_size=1).drain(max_seconds=30) == 3
    bus.publish(EVENTS, [message(again)])
    consumer(bus).drain(max_seconds=30)
    assert count("events", app_id) == 4
    assert CONSUMER_DUPLICATES.labels(EVENTS)._value.get() - duplicates == 2


def test_an_event_from_a_clock_in_the_future_sent_again_later_is_counted_once(bus, app_id):
    # Ingestion stores such an event at its receive time, so the second copy differs in timestamp by
    # the time between the sends; the stored-id check looks a day either side of the batch's times.
    first = row(app_id, timestamp=AT.isoformat())
    again = {**first, "timestamp": (AT + dt.timedelta(hours=20)).isoformat()}
    bus.publish(EVENTS, [message(first)])
    consumer(bus).drain(max_seconds=30)
    bus.publish(EVENTS, [message(again, row(app_id, timestamp=again["timestamp"]))])
    consumer(bus).drain(max_seconds=30)
    assert count("events", app_id) == 2


def test_an_event_stored_at_its_receive_time_sent_again_days_later_is_counted_once(bus, app_id):
    # Sent without a timestamp (or from a clock in the future): stored at its receive time, and the
    # copy sent again ten days later is stored at its own.
    first = row(app_id, timestamp=AT.isoformat(), received_at=AT.isoformat())
    later = (AT + dt.timedelta(days=10)).isoformat()
    again = {**first, "timestamp": later, "received_at": later}
    bus.publish(EVENTS, [message(first)])
    consumer(bus).drain(max_seconds=30)
    bus.publish(EVENTS, [message(again, row(app_id, timestamp=later, received_at=later))])
    consumer(bus).drain(max_seconds=30)
    assert count("events", app_id) == 2


def test_old_events_and_events_stored_at_their_receive_time_are_looked_for_apart_and_counted_once(bus, app_id):
    """A batch holds a message from a device that was offline for weeks, and an event sent without a
    timestamp. The stored-id check looks around each message's own days (not every day in between)
    and, for the event at its receive time alone, INGEST_MAX_PAST_DAYS back. All sent again, in one
    batch with new events: each is counted once."""
    old, older = (AT - dt.timedelta(days=20)).isoformat(), (AT - dt.timedelta(days=10)).isoformat()
    at_receipt = row(app_id, timestamp=AT.isoformat(), received_at=AT.isoformat())
    sent = [
        message(row(app_id, timestamp=old, received_at=AT.isoformat())),
        message(row(app_id, timestamp=(AT - dt.timedelta(hours=1)).isoformat()), at_receipt),
        message(row(app_id, timestamp=older, received_at=AT.isoformat())),
    ]
    bus.publish(EVENTS, sent)
    consumer(bus).drain(max_seconds=30)
    later = (AT + dt.timedelta(days=3)).isoformat()
    again = {**at_receipt, "timestamp": later, "received_at": later}
    bus.publish(EVENTS, [message(row(app_id, timestamp=later, received_at=later)), *sent[:1], *sent[2:]])
    bus.publish(EVENTS, [message(again, row(app_id, timestamp=later)), sent[1]])
    consumer(bus).drain(max_seconds=30)
    assert count("events", app_id) == 6

    batch = TableWriter(EVENTS).prepare([Delivery(EVENTS, "k", m.value, 0, i) for i, m in enumerate(sent)])
    day = writer.DUPLICATE_WINDOW
    assert batch.windows == [
        (AT - dt.timedelta(days=20) - day, AT - dt.timedelta(days=20) + day),
        (AT - dt.timedelta(days=10) - day, AT - dt.timedelta(days=10) + day),
        (AT - dt.timedelta(hours=1) - day, AT - dt.timedelta(hours=1) + day),
    ]
    assert batch.receipt_ids == at_receipt["event_id"].hex and batch.receipt_window[1] == AT + day
    assert at_receipt["event_id"].hex not in batch.ids.split(",") and len(batch.ids.split(",")) == 3


def test_nothing_is_committed_before_its_batch_is_stored_and_clickhouse_down_is_waited_out(bus, app_id, monkeypatch):
    calls, outages = [], iter([True, True])
    real_insert = clickhouse.insert

    def insert(table, rows, **kwargs):
        if table == "events" and next(outages, False):
            calls.append("insert failed")
            raise clickhouse.ConnectionLost("ClickHouse is down")
        real_insert(table, rows, **kwargs)
        if table == "events":
            calls.append(f"stored {len(rows)}")

    monkeypatch.setattr(clickhouse, "insert", insert)
    monkeypatch.setattr(runner.time, "sleep", lambda seconds: calls.append("backoff"))
    bus.publish(EVENTS, [message(row(app_id), row(app_id)) for _ in range(4)])
    drain = consumer(bus, batch_size=2)
    real_commit = drain.subscription.commit
    drain.subscription.commit = lambda deliveries: (calls.append(f"commit {len(deliveries)}"), real_commit(deliveries))

    assert drain.drain(max_seconds=30) == 4
    assert calls[:4] == ["insert failed", "backoff", "insert failed", "backoff"]
    assert calls[4:] == ["stored 4", "commit 2", "stored 4", "commit 2"]
    assert count("events", app_id) == 8


def test_the_server_backend_gets_the_decoded_rows_of_the_lines(app_id):
    """The native protocol sends typed values: what it reads from the rows the consumer passes."""
    writer = TableWriter(EVENTS)
    rows = [row(app_id) for _ in range(3)]
    lines = [msgspec.json.encode(r) for r in rows]
    decoded = DecodedRows(writer.decoder.decode, lines)
    assert len(decoded) == 3 and decoded[1:] == [msgspec.json.decode(line, type=EventRow) for line in lines[1:]]
    assert [row_values(r, writer.columns) for r in decoded] == [
        tuple(getattr(msgspec.json.decode(line, type=EventRow), c) for c in writer.columns) for line in lines
    ]


def test_outbox_messages_from_before_the_lease_placeholders_are_still_delivered(bus):
    OutboxMessage.objects.create(topic=EVENTS, key="old", payload=b"x")  # lease columns NULL
    bus.publish(EVENTS, [Message(key="new", value=b"y")])
    subscription = bus.subscribe(EVENTS, "g")
    taken = subscription.poll(10, timeout=0)
    assert [d.value for d in taken] == [b"x", b"y"]
    assert subscription.poll(10, timeout=0) == []  # both leased now
    subscription.close()
    assert [d.value for d in bus.subscribe(EVENTS, "g").poll(10, timeout=0)] == [b"x", b"y"]


@pytest.mark.django_db(transaction=True)  # the consumer runs in a thread of its own, with its own connection
def test_a_consumer_stopped_while_clickhouse_is_down_commits_nothing(bus, app_id, monkeypatch):
    stop, failed = threading.Event(), threading.Event()
    real_insert = clickhouse.insert

    def down(table, rows, **kwargs):
        failed.set()
        raise clickhouse.ConnectionLost("ClickHouse is down")

    monkeypatch.setattr(clickhouse, "insert", down)
    bus.publish(EVENTS, [message(row(app_id)) for _ in range(3)])
    stopped = consumer(bus)
    result = []

    def run():
        try:
            result.append(stopped.drain(max_seconds=60, stop=stop))
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    assert failed.wait(10)
    stop.set()  # as on SIGTERM: the backoff ends at once
    worker.join(10)
    assert result == [0] and OutboxMessage.objects.filter(topic=EVENTS).count() == 3

    stopped.subscription.close()
    monkeypatch.setattr(clickhouse, "insert", real_insert)
    assert consumer(bus).drain(max_seconds=30) == 3
    assert count("events", app_id) == 3


def test_a_retried_dead_letter_insert_stores_each_failure_once():
    marker = f"poison-{uuid.uuid4()}"
    delivery = Delivery(topic=EVENTS, key="k", value=b"", partition=0, offset=7)
    failures = [
        (delivery, f'{{"{marker}": 1}}'.encode(), "row does not fit events"),
        (delivery, b"x" + marker.encode(), "bad"),
    ]
    for _ in range(2):  # the first insert landed, its answer was lost: the consumer sends it again
        dead_letter_store.store(EVENTS, failures)
    sql = "SELECT count() FROM dead_letters WHERE position(payload, {m:String}) > 0"
    assert clickhouse.execute(sql, {"m": marker}, tag="test").scalar() == 2
