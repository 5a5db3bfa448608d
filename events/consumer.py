"""The consumer: bus batches into ClickHouse, exactly once as seen by the reports.

For each batch: decode every message into its typed row (a message that does not fit is
dead-lettered with the reason), drop ids already stored (a redelivery after a crash) or repeated in
the batch, insert with a deduplication token derived from the batch's offsets (a retried insert is a
no-op), and only then commit. ClickHouse down: keep the batch, back off, retry; nothing is committed
meanwhile. Invariant: every accepted message ends up stored or dead-lettered.
"""

import datetime as dt
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Sequence

import msgspec
from prometheus_client import Counter, Gauge

from attribution import clickhouse

from .bus import Delivery, Subscription
from .rows import ROW_TYPES
from .topics import TABLES

logger = logging.getLogger(__name__)

ROWS_STORED = Counter("unmogrowp_consumer_rows_stored_total", "Rows inserted into ClickHouse.", ["topic"])
DUPLICATES = Counter("unmogrowp_consumer_duplicates_total", "Messages skipped as already stored.", ["topic"])
DEAD_LETTERED = Counter("unmogrowp_dead_letters_total", "Messages dead-lettered, by topic.", ["topic"])
LAG = Gauge("unmogrowp_consumer_lag_messages", "Messages on the bus not yet stored.", ["topic"])
BATCH_SECONDS = Gauge("unmogrowp_consumer_last_batch_seconds", "Duration of the last batch.", ["topic"])


def consumer_group(topic: str) -> str:
    """One consumer group per topic: members of a group then all subscribe to the same topic."""
    return f"ump-clickhouse-writer.{topic}"


MAX_BACKOFF_SECONDS = 30.0


def _token(kind: str, identities: Iterable[str]) -> str:
    """The insert deduplication token of a batch: derived from what it contains (never from bus
    offsets alone, which an emptied SQLite outbox may hand out again), so a retried insert of the
    same rows is dropped by ClickHouse and any other batch is not."""
    digest = hashlib.sha256("\n".join(sorted(identities)).encode()).hexdigest()[:40]
    return f"{kind}:{digest}"


def _identity(key: tuple[uuid.UUID, uuid.UUID]) -> str:
    return f"{key[0].int:032x}:{key[1].int:032x}"  # cheaper than str(UUID), as unique


def dead_letter(topic: str, failures: list[tuple[Delivery, bytes, str]]) -> None:
    """Keep each row that cannot be stored, with its message's position and the reason."""
    if not failures:
        return
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "dead_letter_id": uuid.uuid4(),
            "topic": topic,
            "partition": d.partition,
            "offset": d.offset,
            "message_key": d.key,
            "payload": payload.decode("utf-8", "replace"),
            "reason": reason[:2000],
            "failed_at": now,
        }
        for d, payload, reason in failures
    ]
    clickhouse.insert(
        "dead_letters",
        rows,
        columns=list(rows[0]),
        tag="consumer.dead_letters",
        deduplication_token=_token(
            f"dead:{topic}", [f"{d.partition}:{d.offset}:{d.key}:{p!r}" for d, p, _ in failures]
        ),
    )
    DEAD_LETTERED.labels(topic).inc(len(rows))
    logger.warning("dead-lettered %d row(s) of %s; first reason: %s", len(rows), topic, failures[0][2])


class TableWriter:
    """Stores the deliveries of one topic in its table."""

    def __init__(self, topic: str):
        self.topic = topic
        self.table = TABLES[topic]
        self.row_type, self.id_column = ROW_TYPES[topic]
        self.columns = list(self.row_type.__struct_fields__)
        self.decoder = msgspec.json.Decoder(self.row_type)

    def _stored_ids(self, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]) -> set[tuple[uuid.UUID, uuid.UUID]]:
        """Which (app_id, id) pairs the table holds already. Two flat id lists instead of a list of
        pairs: ClickHouse reads them several times faster, and the pairs are matched here."""
        apps = list({app for app, _ in keys})
        ids = [row_id for _, row_id in keys]
        result = clickhouse.execute(
            f"SELECT DISTINCT app_id, {self.id_column} FROM {self.table} "
            f"WHERE app_id IN {{apps:Array(UUID)}} AND {self.id_column} IN {{ids:Array(UUID)}}",
            {"apps": apps, "ids": ids},
            tag=f"consumer.{self.table}.seen",
        )
        return set(result.rows)

    def _insert(self, fresh: Sequence[tuple], token: str) -> None:
        # The JSON lines go to ClickHouse as they came off the bus: decoding them (above) validated
        # them, and encoding the decoded rows again would only cost time.
        clickhouse.insert(
            self.table,
            [row for _, _, row in fresh],
            columns=self.columns,
            tag=f"consumer.{self.table}",
            deduplication_token=token,
            encoded=[line for _, line, _ in fresh],
        )

    def store(self, deliveries: Sequence[Delivery]) -> int:
        """Returns the number of rows inserted. Raises ClickHouseError (other than QueryError) for the
        caller to retry; rows ClickHouse refuses outright are dead-lettered one by one."""
        decode, id_column = self.decoder.decode, self.id_column
        unique: dict[tuple[uuid.UUID, uuid.UUID], tuple] = {}
        failures, decoded = [], 0
        for delivery in deliveries:
            for line in delivery.value.split(b"\n"):
                try:
                    row = decode(line)
                except (msgspec.ValidationError, msgspec.DecodeError) as error:
                    failures.append((delivery, line, f"row does not fit {self.table}: {error}"))
                    continue
                decoded += 1
                unique.setdefault((row.app_id, getattr(row, id_column)), (delivery, line, row))
        seen = self._stored_ids(list(unique)) if unique else set()
        fresh = {key: entry for key, entry in unique.items() if key not in seen}
        DUPLICATES.labels(self.topic).inc(decoded - len(fresh))
        stored = 0
        if fresh:
            try:
                self._insert(list(fresh.values()), _token(self.table, map(_identity, fresh)))
                stored = len(fresh)
            except clickhouse.QueryError:
                for key, entry in fresh.items():  # find the rows ClickHouse refuses; store the rest
                    try:
                        self._insert([entry], _token(self.table, [_identity(key)]))
                        stored += 1
                    except clickhouse.QueryError as error:
                        failures.append((entry[0], entry[1], f"ClickHouse refused the row: {error}"))
        dead_letter(self.topic, failures)
        ROWS_STORED.labels(self.topic).inc(stored)
        return stored


class TopicConsumer:
    def __init__(self, subscription: Subscription, topic: str, *, batch_size: int = 100, max_wait: float = 1.0):
        """``batch_size`` counts bus messages; each carries one request's rows (1 to 1000), so the default
        gives ClickHouse inserts of about 10k rows for SDK batches of ~100 events."""
        self.subscription = subscription
        self.writer = TableWriter(topic)
        self.topic = topic
        self.batch_size = batch_size
        self.max_wait = max_wait

    def step(self, stop: threading.Event | None = None) -> int:
        """Take one batch and store it (retrying with backoff while ClickHouse is down); returns its size."""
        deliveries = self.subscription.poll(self.batch_size, timeout=self.max_wait)
        if not deliveries:
            return 0
        started, backoff = time.monotonic(), 0.5
        while True:
            try:
                self.writer.store(deliveries)
                break
            except (clickhouse.ConnectionLost, clickhouse.QueryTimeout) as error:
                logger.warning("ClickHouse unavailable (%s); retrying %s in %.1fs", error, self.topic, backoff)
                if stop is not None and stop.wait(backoff):
                    return 0  # shutting down: the batch stays uncommitted and is delivered again
                if stop is None:
                    time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
        self.subscription.commit(deliveries)
        BATCH_SECONDS.labels(self.topic).set(time.monotonic() - started)
        return len(deliveries)

    def drain(self, max_seconds: float) -> int:
        """Store batches until the topic is empty or ``max_seconds`` passed."""
        deadline, total = time.monotonic() + max_seconds, 0
        while time.monotonic() < deadline:
            stored = self.step()
            total += stored
            if stored == 0:
                break
        return total
