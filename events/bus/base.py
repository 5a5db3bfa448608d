"""What both bus backends (outbox, Kafka) promise.

``publish`` returns only once every message is durable (outbox: committed; Kafka: delivery report
from all in-sync replicas) and raises ``BusUnavailable`` otherwise, so the caller never answers 2xx
for a message that could still be lost. Consumers get at-least-once delivery: a batch is delivered
again until ``commit`` is called for it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class BusUnavailable(Exception):
    """The bus could not confirm durability; the caller should answer 503 with Retry-After."""


@dataclass(frozen=True)
class Message:
    key: str
    value: bytes


@dataclass(frozen=True)
class Delivery:
    topic: str
    key: str
    value: bytes
    partition: int
    offset: int


class Subscription(Protocol):
    def poll(self, max_messages: int, timeout: float) -> list[Delivery]: ...

    def commit(self, deliveries: Sequence[Delivery]) -> None: ...

    def lag(self) -> int:
        """Messages on the topic this subscription has not stored yet."""

    def caught_up(self, *, assignment_timeout: float) -> bool:
        """Asked after a poll that returned nothing: is nothing left to deliver to this subscription?
        (``consume_events --until-idle`` stops then.) A subscription that cannot have been handed its
        share of the topic ``assignment_timeout`` seconds after it subscribed raises ``BusUnavailable``."""

    def close(self) -> None: ...


class Bus(Protocol):
    name: str

    def publish(self, topic: str, messages: Sequence[Message]) -> None: ...

    def subscribe(self, topic: str, group: str) -> Subscription: ...

    def check(self) -> None:
        """Raise ``BusUnavailable`` when the bus cannot take messages right now."""
