"""The event bus: publish -> consume -> commit, redelivery after a consumer dies, durability.

The outbox tests run on whichever OLTP database is configured (SQLite, or PostgreSQL in CI's
service configuration); the Kafka tests need a Kafka-protocol broker (Tansu in CI).
"""

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid

import pytest
from django.db import connection

from core import checkpoints
from events.bus import BusUnavailable, Message, publish
from events.bus.kafka import KafkaBus
from events.bus.outbox import OutboxBus
from events.models import OutboxMessage
from tests.conftest import PROJECT_DIR, database_url, free_port


def messages(count: int, prefix: str = "m") -> list[Message]:
    return [Message(key=f"k{i % 3}", value=f"{prefix}-{i}".encode()) for i in range(count)]


def drain(subscription, expected: int, timeout: float = 20.0) -> list:
    received, deadline = [], time.monotonic() + timeout
    while len(received) < expected and time.monotonic() < deadline:
        received += subscription.poll(max_messages=expected - len(received), timeout=0.5)
    return received


def start_worker(topic: str, group: str, count: int, env: dict[str, str]) -> subprocess.Popen:
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.bus_worker", topic, group, str(count)],
        cwd=PROJECT_DIR,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        text=True,
    )
    line = worker.stdout.readline().strip()
    assert line == f"RECEIVED {count}", f"worker said {line!r}"
    return worker


# --- outbox -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_outbox_publish_consume_commit():
    bus, topic = OutboxBus(lease_seconds=30), f"t-{uuid.uuid4().hex}"
    bus.publish(topic, messages(50))
    subscription = bus.subscribe(topic, "g")
    received = drain(subscription, 50)
    assert [d.value for d in received] == [f"m-{i}".encode() for i in range(50)]
    assert subscription.poll(max_messages=10, timeout=0.1) == []  # leased, not delivered twice
    subscription.commit(received)
    assert OutboxMessage.objects.filter(topic=topic).count() == 0


@pytest.mark.django_db(transaction=True)
def test_outbox_payloads_are_stored_compressed_and_delivered_as_published():
    bus, topic = OutboxBus(lease_seconds=30), f"t-{uuid.uuid4().hex}"
    lines = b"\n".join(b'{"event_name":"open","n":%d}' % i for i in range(500))
    small = b'{"touch_type":"click","link_code":"abc"}'  # under a page: compressing would not pay
    bus.publish(topic, [Message(key="k", value=lines), Message(key="k", value=small)])
    OutboxMessage.objects.create(topic=topic, key="from before", payload=b'{"uncompressed":true}')
    stored = list(OutboxMessage.objects.filter(topic=topic).order_by("id").values_list("payload", flat=True))
    assert len(stored[0]) < len(lines) / 4 and bytes(stored[1]) == small
    received = drain(bus.subscribe(topic, "g"), 3)
    assert [d.value for d in received] == [lines, small, b'{"uncompressed":true}']


@pytest.mark.django_db(transaction=True)
def test_outbox_redelivers_what_a_closed_consumer_did_not_commit():
    bus, topic = OutboxBus(lease_seconds=30), f"t-{uuid.uuid4().hex}"
    bus.publish(topic, messages(10))
    first = bus.subscribe(topic, "g")
    taken = drain(first, 10)
    first.commit(taken[:4])
    first.close()
    again = drain(bus.subscribe(topic, "g"), 6)
    assert [d.value for d in again] == [d.value for d in taken[4:]]


@pytest.mark.django_db(transaction=True)
def test_outbox_redelivers_after_the_consumer_process_is_killed():
    bus, topic = OutboxBus(lease_seconds=1), f"t-{uuid.uuid4().hex}"
    bus.publish(topic, messages(200))
    env = {"DATABASE_URL": database_url(), "OUTBOX_LEASE_SECONDS": "1", "KAFKA_BOOTSTRAP_SERVERS": ""}
    worker = start_worker(topic, "g", 200, env)
    assert bus.subscribe(topic, "g").poll(max_messages=200, timeout=0.1) == []  # the worker holds the lease
    worker.send_signal(signal.SIGKILL)
    worker.wait()

    survivor = bus.subscribe(topic, "g")
    received = drain(survivor, 200, timeout=10)
    assert sorted(d.value for d in received) == sorted(m.value for m in messages(200))
    survivor.commit(received)
    assert OutboxMessage.objects.filter(topic=topic).count() == 0


@pytest.mark.django_db(transaction=True)
def test_outbox_messages_survive_a_new_bus_instance():
    topic = f"t-{uuid.uuid4().hex}"
    OutboxBus(lease_seconds=30).publish(topic, messages(5))
    assert OutboxMessage.objects.filter(topic=topic).count() == 5
    assert len(drain(OutboxBus(lease_seconds=30).subscribe(topic, "g"), 5)) == 5


@pytest.mark.django_db(transaction=True)
def test_an_outbox_write_the_database_refuses_is_bus_unavailable_and_the_connection_recovers():
    bus, topic = OutboxBus(lease_seconds=30), f"t-{uuid.uuid4().hex}"
    sqlite = connection.vendor == "sqlite"
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA query_only = ON" if sqlite else "SET default_transaction_read_only = on")
    try:
        with pytest.raises(BusUnavailable, match="Outbox write failed"):
            bus.publish(topic, messages(1))  # one message: the autocommit path
        with pytest.raises(BusUnavailable, match="Outbox write failed"):
            bus.publish(topic, messages(3))  # several: one transaction
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA query_only = OFF" if sqlite else "SET default_transaction_read_only = off")
    bus.publish(topic, messages(2))
    assert list(OutboxMessage.objects.filter(topic=topic).values_list("key", flat=True)) == ["k0", "k1"]


@pytest.mark.django_db(transaction=True)
def test_publish_through_the_configured_bus_counts_metrics(settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = ""
    from core.metrics import BUS_PUBLISHED

    topic = f"t-{uuid.uuid4().hex}"
    publish(topic, messages(3))
    assert BUS_PUBLISHED.labels(topic, "outbox")._value.get() == 3


# --- Kafka --------------------------------------------------------------------------------------


@pytest.fixture
def kafka(kafka_bootstrap):
    bus = KafkaBus(kafka_bootstrap, delivery_timeout=10)
    topic = f"test-{uuid.uuid4().hex}"
    bus.ensure_topics({topic: 3})
    yield bus, topic
    bus.close()


@pytest.mark.services
def test_kafka_publish_consume_commit(kafka):
    bus, topic = kafka
    bus.publish(topic, messages(300))
    group = f"g-{uuid.uuid4().hex}"
    subscription = bus.subscribe(topic, group)
    received = drain(subscription, 300)
    assert sorted(d.value for d in received) == sorted(m.value for m in messages(300))
    subscription.commit(received)
    subscription.close()

    bus.publish(topic, messages(5, prefix="late"))
    after_restart = bus.subscribe(topic, group)
    assert sorted(d.value for d in drain(after_restart, 5)) == sorted(m.value for m in messages(5, prefix="late"))
    assert after_restart.poll(max_messages=10, timeout=1.0) == []  # committed messages are not redelivered
    after_restart.close()


@pytest.mark.services
def test_kafka_redelivers_after_the_consumer_process_is_killed(kafka, kafka_bootstrap):
    bus, topic = kafka
    bus.publish(topic, messages(500))
    group = f"g-{uuid.uuid4().hex}"
    worker = start_worker(topic, group, 500, {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap})
    worker.send_signal(signal.SIGKILL)
    worker.wait()

    survivor = bus.subscribe(topic, group)
    received = drain(survivor, 500, timeout=40)  # the group rebalances once the dead member's session expires
    assert sorted(d.value for d in received) == sorted(m.value for m in messages(500))
    survivor.commit(received)
    survivor.close()


def test_kafka_publish_to_an_unreachable_broker_raises_bus_unavailable():
    bus = KafkaBus(f"127.0.0.1:{free_port()}", delivery_timeout=1.5)
    started = time.monotonic()
    with pytest.raises(BusUnavailable):
        bus.publish("nowhere", messages(1))
    assert time.monotonic() - started < 5


def test_a_kafka_producer_that_delivers_nothing_for_three_timeouts_is_replaced():
    bus = KafkaBus(f"127.0.0.1:{free_port()}", delivery_timeout=0.3)
    producers = []
    for _ in range(6):  # 6 x 0.3 s of timeouts: past STUCK_TIMEOUTS (3) delivery timeouts once
        producers.append(bus._get_producer())
        with pytest.raises(BusUnavailable):
            bus.publish("nowhere", messages(1))
    assert producers[0] is producers[1]  # a short outage keeps its producer
    assert 2 <= len({id(p) for p in producers}) <= 3  # replaced, but not after every failure


@pytest.mark.django_db
def test_the_embedded_outbox_leaves_checkpoints_to_its_thread_and_frees_deleted_messages_without_zeroing_them():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite settings")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone() == (2000,), "a safety net only: core.checkpoints runs them"
        cursor.execute("PRAGMA secure_delete")
        assert cursor.fetchone() == (2,), "FAST (2): Debian's ON zeroes every deleted payload page"


def test_the_checkpointer_copies_the_log_into_the_database_without_any_writer_doing_it(tmp_path):
    path = tmp_path / "db.sqlite3"
    writer = sqlite3.connect(path)
    writer.executescript("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t (payload BLOB);")
    writer.executemany("INSERT INTO t VALUES (?)", [(bytes(4000),)] * 200)
    writer.commit()
    before = path.stat().st_size  # the pages are in the log only: autocheckpoint is off
    done_before = checkpoints.CHECKPOINTS.labels("done")._value.get()
    stop = threading.Event()
    thread = threading.Thread(target=checkpoints._run, args=(str(path), 0.02, stop))
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while path.stat().st_size < before + 200 * 4000 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join()
        writer.close()
    assert path.stat().st_size >= before + 200 * 4000
    assert checkpoints.CHECKPOINTS.labels("done")._value.get() > done_before


@pytest.mark.django_db
def test_the_checkpointer_runs_only_on_sqlite():
    stop = checkpoints.start()
    if connection.vendor == "sqlite":
        assert stop is not None and any(t.name == "sqlite-checkpoints" for t in threading.enumerate())
        stop.set()
    else:
        assert stop is None


@pytest.mark.django_db(transaction=True)
def test_an_embedded_outbox_publish_writes_no_autoincrement_counter():
    """Every publish is a commit on the request's path: AUTOINCREMENT would make each one update
    sqlite_sequence as well, a third page written per commit."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite settings")
    publish("events", messages(3))
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE name = %s", [OutboxMessage._meta.db_table])
        assert "AUTOINCREMENT" not in cursor.fetchone()[0].upper()
        cursor.execute("SELECT count(*) FROM sqlite_sequence WHERE name = %s", [OutboxMessage._meta.db_table])
        assert cursor.fetchone() == (0,)
    assert OutboxMessage.objects.filter(topic="events").count() == 3
