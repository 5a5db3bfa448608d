"""Running the consumer: one ``TopicConsumer`` per topic drains the bus into its table, committing
each batch only once it is stored. Invariant: every accepted row ends up stored, dead-lettered, or
dropped as its subject's (opted out, or erased after the row was received: events.subjects).
ClickHouse down: the batch is kept, retried with backoff, and nothing is committed meanwhile.

``consumer_jobs`` are the periodic jobs (``core.periodic``) that the web process's background threads
and ``manage.py consume_events`` both run; ``store_until_idle`` is ``consume_events --until-idle``."""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

from core import clickhouse
from core.metrics import CONSUMER_BATCH_SECONDS, CONSUMER_LAG
from core.periodic import PeriodicJob
from events.bus import Subscription, get_bus
from events.bus.topics import TABLES

from .writer import Batch, TableWriter

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 30.0
LAG_EVERY_SECONDS = 10.0


def consumer_group(topic: str) -> str:
    """One consumer group per topic: members of a group then all subscribe to the same topic."""
    return f"{settings.KAFKA_CONSUMER_GROUP_PREFIX}.{topic}"


class TopicConsumer:
    def __init__(self, subscription: Subscription, topic: str, *, batch_size: int = 100, max_wait: float = 1.0):
        """``batch_size`` counts bus messages; each carries one request's rows (1 to 1000), so the default
        gives ClickHouse inserts of about 10k rows for SDK batches of ~100 events."""
        self.subscription = subscription
        self.writer = TableWriter(topic)
        self.topic = topic
        self.batch_size = batch_size
        self.max_wait = max_wait
        self._next_lag = 0.0

    def step(self, stop: threading.Event) -> None:
        """One step of the topic's periodic job: drain for a while, then export the lag."""
        self.drain(max_seconds=LAG_EVERY_SECONDS, stop=stop)
        if time.monotonic() >= self._next_lag:
            CONSUMER_LAG.labels(self.topic).set(self.subscription.lag())
            self._next_lag = time.monotonic() + LAG_EVERY_SECONDS

    def _written(self, batch: Batch, stop: threading.Event | None) -> bool:
        """Write the batch, again with backoff while ClickHouse is unavailable. False: ``stop`` was set
        first (the batch stays uncommitted and is delivered again)."""
        backoff = 0.5
        while True:
            try:
                self.writer.write(batch)
                return True
            except (clickhouse.ConnectionLost, clickhouse.QueryTimeout) as error:
                logger.warning("ClickHouse unavailable (%s); retrying %s in %.1fs", error, self.topic, backoff)
            if stop is not None and stop.wait(backoff):
                return False
            if stop is None:
                time.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _commit(self, batch: Batch, started: float) -> int:
        self.subscription.commit(batch.deliveries)
        CONSUMER_BATCH_SECONDS.labels(self.topic).set(time.monotonic() - started)
        return len(batch.deliveries)

    def drain(self, max_seconds: float, stop: threading.Event | None = None) -> int:
        """Store batches until the topic is empty, ``max_seconds`` passed or ``stop`` is set; returns
        the number of messages committed. Each batch is committed only once it is written.

        Batches are written one after another, each after the one before it is stored (a batch's
        stored-id check must see the rows of the last), by a writer thread: ClickHouse's work runs
        without the GIL, so while it writes a batch this thread polls and decodes the next."""
        deadline, committed, pending = time.monotonic() + max_seconds, 0, None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"consumer-{self.topic}") as writer:
            while True:
                more = time.monotonic() < deadline and not (stop is not None and stop.is_set())
                deliveries = self.subscription.poll(self.batch_size, timeout=self.max_wait) if more else []
                batch = self.writer.prepare(deliveries) if deliveries else None
                if pending is not None:
                    written, started, stored = pending
                    if not stored.result():  # stop was set while ClickHouse was down
                        break  # this batch and the next stay uncommitted and are delivered again
                    committed += self._commit(written, started)
                    pending = None
                if batch is None:
                    break
                pending = (batch, time.monotonic(), writer.submit(self._written, batch, stop))
        return committed


def consumer_jobs(topics=None, *, batch_size: int = 100, max_wait: float = 1.0) -> list[PeriodicJob]:
    """One job per topic (default: every topic): drain the bus into the table, and export the lag."""
    bus = get_bus()
    consumers = [
        TopicConsumer(bus.subscribe(topic, consumer_group(topic)), topic, batch_size=batch_size, max_wait=max_wait)
        for topic in topics or sorted(TABLES)
    ]
    return [
        PeriodicJob(f"consume:{c.topic}", c.step, interval_seconds=0.2, close=c.subscription.close) for c in consumers
    ]


def store_until_idle(topics: list[str], *, batch_size: int = 100, assignment_timeout: float) -> int:
    """Store what the bus holds for ``topics`` until every topic's subscription is caught up
    (``Subscription.caught_up``: with Kafka, only once the group has handed it partitions); returns
    the number of messages committed. Raises ``BusUnavailable`` when a Kafka subscription gets no
    partition within ``assignment_timeout`` seconds."""
    bus = get_bus()
    consumers = [TopicConsumer(bus.subscribe(t, consumer_group(t)), t, batch_size=batch_size) for t in topics]
    try:
        stored = 0
        while True:
            moved = sum(consumer.drain(max_seconds=60) for consumer in consumers)
            stored += moved
            if not moved and all(c.subscription.caught_up(assignment_timeout=assignment_timeout) for c in consumers):
                return stored
    finally:
        for consumer in consumers:
            consumer.subscription.close()
