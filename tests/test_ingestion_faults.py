"""Faults: a broker that goes away, a consumer killed mid-stream, and generated hostile payloads."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid

import orjson
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.conftest import PROJECT_DIR, database_url, free_port
from tests.ingestion import app_with_key, event, post_events

pytestmark = pytest.mark.django_db


def test_a_broker_that_is_down_gets_503_with_retry_after_never_2xx(settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{free_port()}"
    settings.KAFKA_DELIVERY_TIMEOUT_SECONDS = 1.0
    _, raw_key = app_with_key()
    response = post_events(raw_key, [event()])
    assert response.status_code == 503
    assert response["Retry-After"] == "5"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "event_name",
        "event_id",
        "timestamp",
        "device_ids",
        "user_id",
        "revenue",
        "currency",
        "properties",
        "platform",
        "consent",
        "attribution",
        "ip",
        "user_agent",
        "locale",
        "country",
        "session_id",
    ]
) | st.text(max_size=10)
events_strategy = st.lists(st.dictionaries(field_names, json_values, max_size=8), min_size=1, max_size=5)


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=events_strategy)
def test_generated_payloads_never_cause_a_5xx_and_every_rejection_has_a_reason(batch):
    _, raw_key = app_with_key()
    response = post_events(raw_key, body=orjson.dumps({"events": batch}))
    assert response.status_code in {202, 400, 413}, response.content
    if response.status_code == 202:
        body = response.json()
        assert body["accepted"] + len(body["rejected"]) == len(batch)
        assert all(r["reason"] for r in body["rejected"])


@given(body=st.binary(max_size=200))
@hypothesis_settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_arbitrary_bytes_never_cause_a_5xx(body):
    _, raw_key = app_with_key()
    assert post_events(raw_key, body=body).status_code in {202, 400, 413}


class Consumer:
    """``manage.py consume_events`` in its own process, watched through its /metrics."""

    def __init__(self, env: dict):
        self.port = free_port()
        command = ["manage.py", "consume_events", "--metrics-port", str(self.port), "--batch-size", "20"]
        self.process = subprocess.Popen(
            [sys.executable, *command], cwd=PROJECT_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def stored(self) -> float:
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2).read().decode()
        except OSError:
            return 0.0
        prefix = 'unmogrowp_consumer_rows_stored_total{topic="ump.events.v1"} '
        return next((float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix)), 0.0)

    def wait_until_storing(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while self.stored() == 0:
            assert self.process.poll() is None, self.process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the consumer stored nothing"
            time.sleep(0.2)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=60) == 0, self.process.stderr.read().decode()[-2000:]


def _query_store(env: dict, sql: str) -> str:
    code = f"from core import clickhouse; print(clickhouse.execute({sql!r}, tag='test').rows)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.django_db(transaction=True)
def test_killing_the_consumer_repeatedly_loses_and_duplicates_nothing(tmp_path, settings):
    """Bounded here (20k events, 3 kills); `make soak` runs it with SOAK_EVENTS=200000."""
    total = int(os.environ.get("SOAK_EVENTS", "20000"))
    app, raw_key = app_with_key()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "VAR_DIR": str(tmp_path),
        "OUTBOX_LEASE_SECONDS": "2",
        "REDIS_URL": "",
        "CLICKHOUSE_URL": "",
    }
    if settings.KAFKA_BOOTSTRAP_SERVERS:
        # Consumer groups of this test's own: what another run left in the product's groups is not its.
        env["KAFKA_BOOTSTRAP_SERVERS"] = settings.KAFKA_BOOTSTRAP_SERVERS
        env["KAFKA_CONSUMER_GROUP_PREFIX"] = f"test-{uuid.uuid4().hex}"
    subprocess.run(
        [sys.executable, "manage.py", "migrate_clickhouse"], cwd=PROJECT_DIR, env=env, check=True, capture_output=True
    )

    accepted, consumer, kills = [], Consumer(env), 0
    try:
        batch_size, sent = 500, 0
        while sent < total:
            batch = [event(event_name="open", timestamp="2026-11-25T08:00:00Z") for _ in range(batch_size)]
            response = post_events(raw_key, batch)
            assert response.status_code == 202
            accepted += response.json()["ids"]
            sent += batch_size
            if sent % (total // 4) == 0 and kills < 3:
                consumer.wait_until_storing()  # killed while it is busy writing, not while it starts up
                consumer.kill()
                kills += 1
                consumer = Consumer(env)
        sql = f"SELECT count(), uniqExact(event_id) FROM events WHERE app_id = '{app.id}'"
        # chdb has one owner: stop the consumer to look at the store; give it longer each round.
        for wait in (5, 10, 20, 40):
            consumer.wait_until_storing()
            time.sleep(wait)
            consumer.stop()
            stored = _query_store(env, sql)
            if stored == f"[({total}, {total})]" or wait == 40:
                break
            consumer = Consumer(env)
    finally:
        if consumer.process.poll() is None:  # a failed assertion must not leave a consumer running
            consumer.kill()
    assert kills == 3
    assert len(set(accepted)) == total
    assert stored == f"[({total}, {total})]"  # every accepted event once: nothing lost, nothing doubled
    dead = _query_store(env, f"SELECT count() FROM dead_letters WHERE position(payload, '{app.id}') > 0")
    assert dead == "[(0,)]"
