"""``manage.py consume_events --until-idle`` (``events.consumer.runner.store_until_idle``): it stops only
once everything published before it is stored. A Kafka consumer-group member gets nothing from its
polls while the group is still handing out partitions, so an empty poll alone is not the end of the
topic; and a member that never gets partitions fails with a clear error instead of storing nothing.

Each Kafka test uses a group of its own (``KAFKA_CONSUMER_GROUP_PREFIX``), never the product's."""

import datetime as dt
import io
import time
import uuid

import pytest
from django.core.management import call_command

from events.bus import BusUnavailable, Message
from events.bus.kafka import KafkaBus, KafkaSubscription
from events.bus.topics import EVENTS, PARTITIONS
from events.consumer.runner import consumer_group, store_until_idle
from events.models import OutboxMessage
from tests.conftest import free_port
from tests.ingestion import app_with_key, count, event, post_events

REQUESTS, EVENTS_PER_REQUEST = 12, 25


def send_events(raw_key: str) -> int:
    """Events through the ingestion endpoint, one bus message per request (keys spread over partitions)."""
    now = dt.datetime.now(dt.UTC).isoformat()
    for _ in range(REQUESTS):
        response = post_events(raw_key, [event(event_name="open", timestamp=now) for _ in range(EVENTS_PER_REQUEST)])
        assert response.status_code == 202, response.content
    return REQUESTS * EVENTS_PER_REQUEST


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_until_idle_with_a_new_kafka_group_stores_everything_sent_before_it(kafka_bootstrap, settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = kafka_bootstrap
    settings.KAFKA_CONSUMER_GROUP_PREFIX = f"test-{uuid.uuid4().hex}"
    KafkaBus(kafka_bootstrap, delivery_timeout=10).ensure_topics(PARTITIONS)
    app, raw_key = app_with_key()
    sent = send_events(raw_key)

    output = io.StringIO()
    call_command("consume_events", until_idle=True, topic=[EVENTS], metrics_port=0, stdout=output)

    assert count("events", app.id) == sent
    assert output.getvalue().startswith("stored ")


@pytest.mark.services
def test_a_kafka_subscription_is_caught_up_only_once_it_has_partitions_and_has_read_them_to_the_end(
    kafka_bootstrap,
):
    bus = KafkaBus(kafka_bootstrap, delivery_timeout=10)
    topic = f"test-{uuid.uuid4().hex}"
    bus.ensure_topics({topic: 3})
    published = [Message(key=f"k{i}", value=f"m-{i}".encode()) for i in range(40)]
    bus.publish(topic, published)
    subscription = bus.subscribe(topic, f"test-{uuid.uuid4().hex}")
    try:
        # Just subscribed: no partitions yet, so nothing comes, and that is not the end of the topic.
        assert subscription.poll(max_messages=100, timeout=0) == []
        assert not subscription.caught_up(assignment_timeout=30)

        received, deadline = [], time.monotonic() + 30
        while True:
            deliveries = subscription.poll(max_messages=7, timeout=0.5)
            received += deliveries
            subscription.commit(deliveries)
            if not deliveries and subscription.caught_up(assignment_timeout=30):
                break
            assert time.monotonic() < deadline, f"not caught up after {len(received)} message(s)"
        assert sorted(d.value for d in received) == sorted(m.value for m in published)
        assert subscription.lag() == 0
    finally:
        subscription.close()
    bus.close()


def test_a_kafka_subscription_that_gets_no_partition_in_time_raises_instead_of_being_caught_up():
    subscription = KafkaSubscription(f"127.0.0.1:{free_port()}", EVENTS, "test-no-broker")
    try:
        assert subscription.poll(max_messages=10, timeout=0.2) == []
        assert not subscription.caught_up(assignment_timeout=30)
        time.sleep(0.3)
        with pytest.raises(BusUnavailable, match=r"group test-no-broker no partition of ump\.events\.v1 within 0\.2s"):
            subscription.caught_up(assignment_timeout=0.2)
    finally:
        subscription.close()


@pytest.mark.django_db(transaction=True)
def test_until_idle_on_a_kafka_broker_that_never_assigns_partitions_fails_with_the_reason(settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{free_port()}"
    settings.KAFKA_CONSUMER_GROUP_PREFIX = f"test-{uuid.uuid4().hex}"
    started = time.monotonic()
    with pytest.raises(BusUnavailable, match=f"group {consumer_group(EVENTS)} no partition"):
        store_until_idle([EVENTS], assignment_timeout=2)
    assert time.monotonic() - started < 30


@pytest.mark.django_db(transaction=True)
def test_until_idle_on_the_outbox_stores_everything_and_leaves_the_outbox_empty(settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = ""
    OutboxMessage.objects.all().delete()  # what other tests left
    app, raw_key = app_with_key()
    sent = send_events(raw_key)

    output = io.StringIO()
    call_command("consume_events", until_idle=True, metrics_port=0, stdout=output)

    assert count("events", app.id) == sent
    assert not OutboxMessage.objects.exists()
    assert output.getvalue() == f"stored {REQUESTS} message(s); the bus is empty\n"
