"""The event bus: the outbox table in the embedded default, Kafka when KAFKA_BOOTSTRAP_SERVERS is set."""

import functools
import threading
import time
from collections.abc import Sequence

from django.conf import settings

from core.metrics import BUS_PUBLISH_FAILURES, BUS_PUBLISH_SECONDS, BUS_PUBLISHED

from .base import Bus, BusUnavailable, Delivery, Message, Subscription

_bus: Bus | None = None
_bus_lock = threading.Lock()


def build_bus() -> Bus:
    if settings.KAFKA_BOOTSTRAP_SERVERS:
        from .kafka import KafkaBus

        return KafkaBus(settings.KAFKA_BOOTSTRAP_SERVERS, delivery_timeout=settings.KAFKA_DELIVERY_TIMEOUT_SECONDS)
    from .outbox import OutboxBus

    return OutboxBus(lease_seconds=settings.OUTBOX_LEASE_SECONDS)


def get_bus() -> Bus:
    global _bus
    if _bus is None:
        with _bus_lock:
            if _bus is None:
                _bus = build_bus()
    return _bus


def publish(topic: str, messages: Sequence[Message]) -> None:
    """Make ``messages`` durable on ``topic``; raises ``BusUnavailable`` when that cannot be confirmed."""
    bus = get_bus()
    seconds, published, failures = _metrics(topic, bus.name)
    started = time.perf_counter()
    try:
        bus.publish(topic, messages)
    except BusUnavailable:
        failures.inc(len(messages))
        raise
    seconds.observe(time.perf_counter() - started)
    published.inc(len(messages))


@functools.cache
def _metrics(topic: str, backend: str) -> tuple:
    # A metric's labels() looks its child up under a lock on every call: once per topic here.
    return (
        BUS_PUBLISH_SECONDS.labels(backend),
        BUS_PUBLISHED.labels(topic, backend),
        BUS_PUBLISH_FAILURES.labels(topic, backend),
    )


def reset_bus() -> None:
    global _bus
    with _bus_lock:
        _bus = None


__all__ = [
    "Bus",
    "BusUnavailable",
    "Delivery",
    "Message",
    "Subscription",
    "build_bus",
    "get_bus",
    "publish",
    "reset_bus",
]
