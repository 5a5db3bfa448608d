"""The production bus: Kafka through confluent-kafka.

The producer is idempotent with ``acks=all``; ``publish`` waits for the delivery report of every
message it sent (not for other threads' messages) and raises ``BusUnavailable`` on any failure or
when the reports do not arrive within the delivery timeout — including the time spent waiting for
room in a full local queue, so a request never hangs past the timeout.

An idempotent producer can become unusable for good — a fatal error (e.g. ``UNKNOWN_PRODUCER_ID``
after a broker restarted without its producer state) or the broker fencing its producer id (after
a stall past the request timeout). The bus then retires that instance and the next ``publish``
builds a fresh one, so ingestion recovers when the broker does, without restarting the process.
"""

import logging
import threading
import time
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from events.bus.topics import PARTITIONS

from .base import BusUnavailable, Delivery, Message

logger = logging.getLogger(__name__)


class _Pending:
    """Counts one publish call's outstanding delivery reports."""

    def __init__(self, expected: int):
        self.remaining = expected
        self.errors: list[KafkaError] = []
        self.lock = threading.Lock()

    def on_delivery(self, error, message) -> None:
        with self.lock:
            self.remaining -= 1
            if error is not None:
                self.errors.append(error)


# Errors after which this producer instance never delivers again: librdkafka's fatal errors, and
# the broker rejecting the producer's identity (PRODUCER_FENCED is reported per message, not as fatal,
# but every later message gets it too — seen after a broker stalled past the request timeout).
_BROKEN_PRODUCER = {
    KafkaError._FATAL,
    KafkaError.PRODUCER_FENCED,
    KafkaError.INVALID_PRODUCER_EPOCH,
    KafkaError.UNKNOWN_PRODUCER_ID,
    KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
    KafkaError.INVALID_PRODUCER_ID_MAPPING,
}


# How many delivery timeouts without one delivery make a producer count as stuck.
STUCK_TIMEOUTS = 3


def _broken(error: KafkaError) -> bool:
    return error.fatal() or error.code() in _BROKEN_PRODUCER


class KafkaBus:
    name = "kafka"

    def __init__(self, bootstrap_servers: str, *, delivery_timeout: float, client_id: str = "unmogrowp"):
        self.bootstrap_servers = bootstrap_servers
        self.delivery_timeout = delivery_timeout
        self.client_id = client_id
        self._producer: Producer | None = None
        self._producer_lock = threading.Lock()
        self._failing_since: float | None = None  # monotonic time of the first failed publish in a row

    def _get_producer(self) -> Producer:
        producer = self._producer
        if producer is None:
            with self._producer_lock:
                if self._producer is None:
                    self._producer = Producer(
                        {
                            "bootstrap.servers": self.bootstrap_servers,
                            "client.id": self.client_id,
                            "enable.idempotence": True,
                            "acks": "all",
                            "linger.ms": 2,
                            "compression.type": "lz4",
                            "message.timeout.ms": int(self.delivery_timeout * 1000),
                        }
                    )
                producer = self._producer
        return producer

    def _retire(self, producer: Producer, why: str) -> None:
        """Drop ``producer``; the next publish builds a new one (a new producer id). Messages still
        inside the old one fail or time out in their own publish calls."""
        with self._producer_lock:
            if self._producer is producer:
                self._producer = None
                logger.error("Kafka producer %s; the next publish uses a new one", why)

    def _failed(self, producer: Producer, errors: Sequence[KafkaError]) -> None:
        """After a failed publish, replace a producer that can never deliver again (a fatal or fencing
        error), or that has delivered nothing for STUCK_TIMEOUTS delivery timeouts: after a broker
        restart one can keep timing out on what it remembers (metadata, producer id) while a new one
        delivers at once."""
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        broken = next((e for e in errors if _broken(e)), None)
        if broken is not None:
            self._retire(producer, f"unusable ({broken})")
        elif now - self._failing_since >= STUCK_TIMEOUTS * self.delivery_timeout:
            self._failing_since = now
            self._retire(producer, f"delivered nothing for {STUCK_TIMEOUTS * self.delivery_timeout:.0f}s")

    def publish(self, topic: str, messages: Sequence[Message]) -> None:
        producer = self._get_producer()
        pending = _Pending(len(messages))
        deadline = time.monotonic() + self.delivery_timeout
        try:
            for message in messages:
                self._produce(producer, topic, message, pending, deadline)
            while pending.remaining > 0 and time.monotonic() < deadline:
                # confluent-kafka raises a producer's fatal error from poll() (not through error_cb).
                producer.poll(0.01)
        except KafkaException as error:
            self._failed(producer, [error.args[0]])
            raise BusUnavailable(f"Kafka refused the message: {error}") from error
        with pending.lock:
            errors, remaining = list(pending.errors), pending.remaining
        if errors or remaining > 0:
            self._failed(producer, errors)
        else:
            self._failing_since = None
        if errors:
            raise BusUnavailable(f"Kafka delivery failed: {errors[0]}")
        if remaining > 0:
            raise BusUnavailable(f"Kafka did not confirm {remaining} message(s) within {self.delivery_timeout}s.")

    @staticmethod
    def _produce(producer: Producer, topic: str, message: Message, pending: _Pending, deadline: float) -> None:
        while True:
            try:
                producer.produce(topic, value=message.value, key=message.key, on_delivery=pending.on_delivery)
                return
            except BufferError:
                # Local queue full: serve delivery reports to make room, then try again until the deadline.
                if time.monotonic() >= deadline:
                    raise BusUnavailable("Kafka producer queue full (broker slow or down).") from None
                producer.poll(0.05)

    def subscribe(self, topic: str, group: str) -> "KafkaSubscription":
        return KafkaSubscription(self.bootstrap_servers, topic, group)

    def check(self) -> None:
        try:
            self._get_producer().list_topics(timeout=2)
        except KafkaException as error:
            raise BusUnavailable(f"Kafka brokers {self.bootstrap_servers} unreachable: {error}") from error

    def ensure_topics(self, partitions: dict[str, int] | None = None) -> None:
        """Create missing topics (idempotent)."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
        wanted = partitions or PARTITIONS
        existing = set(admin.list_topics(timeout=5).topics)
        new = [NewTopic(name, num_partitions=count) for name, count in wanted.items() if name not in existing]
        if not new:
            return
        for future in admin.create_topics(new, operation_timeout=10).values():
            try:
                future.result()
            except KafkaException as error:
                if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise

    def close(self) -> None:
        producer = self._producer
        if producer is not None:
            producer.flush(self.delivery_timeout)


class KafkaSubscription:
    """A consumer-group member with manual commits: nothing is committed until ``commit``.

    A member is handed its partitions only once the group has balanced, seconds after it subscribed,
    and its polls return nothing until then, however full the topic. So an empty poll alone does not
    mean the topic is drained: ``caught_up`` also asks for partitions, and for this member's next
    offset at the end of each of them."""

    def __init__(self, bootstrap_servers: str, topic: str, group: str):
        self.topic = topic
        self.group = group
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap_servers,
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 1000,
            }
        )
        self._consumer.subscribe([topic])
        self._subscribed_at = time.monotonic()

    def poll(self, max_messages: int, timeout: float) -> list[Delivery]:
        try:
            messages = self._consumer.consume(num_messages=max_messages, timeout=timeout)
        except KafkaException as error:
            raise BusUnavailable(f"Kafka consume failed: {error}") from error
        deliveries = []
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise BusUnavailable(f"Kafka consume failed: {error}")
            key = message.key()
            deliveries.append(
                Delivery(
                    topic=message.topic(),
                    key=key.decode() if key else "",
                    value=message.value(),
                    partition=message.partition(),
                    offset=message.offset(),
                )
            )
        return deliveries

    def commit(self, deliveries: Sequence[Delivery]) -> None:
        next_offsets: dict[tuple[str, int], int] = {}
        for d in deliveries:
            position = (d.topic, d.partition)
            next_offsets[position] = max(next_offsets.get(position, 0), d.offset + 1)
        if not next_offsets:
            return
        offsets = [TopicPartition(topic, partition, offset) for (topic, partition), offset in next_offsets.items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as error:
            raise BusUnavailable(f"Kafka commit failed: {error}") from error

    def lag(self) -> int:
        """Messages after this member's next offset, over the partitions assigned to it."""
        return self._unread(self._consumer.assignment())

    def caught_up(self, *, assignment_timeout: float) -> bool:
        assignment = self._consumer.assignment()
        if assignment:
            return self._unread(assignment) == 0
        if time.monotonic() - self._subscribed_at > assignment_timeout:
            raise BusUnavailable(
                f"Kafka gave group {self.group} no partition of {self.topic} within {assignment_timeout:g}s "
                "of subscribing: the group coordinator did not answer, or other members hold every partition."
            )
        return False

    def _unread(self, assignment: list[TopicPartition]) -> int:
        """Messages from this member's next offset to the end of each partition of ``assignment``. The
        next offset is the position; before a partition delivered anything there is none, and the member
        reads from the group's committed offset, or else from the start (``auto.offset.reset``)."""
        try:
            positions = self._consumer.position(assignment)
            unstarted = [position for position in positions if position.offset < 0]
            committed = {(c.topic, c.partition): c.offset for c in self._consumer.committed(unstarted, timeout=5)}
            total = 0
            for position in positions:
                low, high = self._consumer.get_watermark_offsets(position, timeout=2, cached=False)
                offset = committed.get((position.topic, position.partition), position.offset)
                total += max(0, high - max(offset, low))  # an offset retention has deleted reads from the start
        except KafkaException as error:
            raise BusUnavailable(f"Kafka offsets unavailable: {error}") from error
        return total

    def close(self) -> None:
        self._consumer.close()
