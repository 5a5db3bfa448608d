"""Segment's official clients against the live /v1 endpoints: segment-analytics-python (PyPI, pinned in
requirements-dev.txt) in this process, and @segment/analytics-node (npm, pinned by
tests/segment_node/package-lock.json, installed by ``npm ci`` into its git-ignored node_modules/ the
first time it is needed) in a node process. Both talk to Django's live server as they would to
Segment: a write key, their own batching, gzip (the Python one), their own message ids.

Each sends identify, track, page or screen, and the mobile lifecycle events; the tests flush the
clients, drain the bus, and read what ClickHouse (chdb) stored. Node.js missing: the Node tests
skip, or fail under REQUIRE_SERVICES=1 (as in CI).
"""

import datetime as dt
import decimal
import gzip
import http.client
import json
import shutil
import subprocess
import time
import uuid

import pytest
from django.conf import settings
from segment.analytics import request as segment_request
from segment.analytics.client import Client as SegmentClient

from events import privacy
from events.bus import get_bus
from events.bus.topics import EVENTS
from events.consumer.runner import TopicConsumer, consumer_group
from events.ingestion.segment.mapping import MESSAGE_ID_NAMESPACE
from tests.conftest import PROJECT_DIR, free_port, run_manage, service_unavailable
from tests.ingestion import app_with_key, count, stored_events
from tests.test_log_privacy import SETUP, serve

pytestmark = pytest.mark.django_db(transaction=True)

NODE_CLIENT = PROJECT_DIR / "tests" / "segment_node"
IDFA = "AEBE52E7-03EE-455A-B3C4-E57283966239"
GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"
COLUMNS = (
    "event_id",
    "event_name",
    "platform",
    "device_ids",
    "user_id",
    "app_version",
    "attribution",
    "revenue",
    "currency",
    "properties",
)

IOS = {
    "app": {"name": "Shop", "version": "2.4.0", "build": "240"},
    "device": {"id": "V-1", "advertisingId": IDFA, "adTrackingEnabled": True, "type": "ios", "model": "iPhone16,2"},
    "os": {"name": "iOS", "version": "18.1"},
    "campaign": {"name": "spring", "source": "meta", "medium": "cpi"},
}
ANDROID = {
    "app": {"name": "Shop", "version": "2.4.1"},
    "device": {"id": "A-1", "advertisingId": GAID, "adTrackingEnabled": True, "type": "android"},
    "os": {"name": "Android", "version": "15"},
    "referrer": {"type": "google-play", "url": "utm_source=meta&ump_click_id=6f1c2d3e4b5a4c6d8e7f0a1b2c3d4e5f"},
}


def stored(store_all, app_id, expected: int) -> dict[str, dict]:
    """The app's events by event name once ``expected`` rows are in ClickHouse and the bus is drained
    (a duplicate delivery would be stored by then, as an extra row)."""
    if settings.KAFKA_BOOTSTRAP_SERVERS:
        store_all(until=lambda: count("events", app_id) >= expected, timeout=20)
        store_all()
    else:  # a drain of the events topic alone that polls briefly keeps these tests quick
        drain = TopicConsumer(get_bus().subscribe(EVENTS, consumer_group(EVENTS)), EVENTS, max_wait=0.05)
        deadline = time.monotonic() + 20
        try:
            while drain.drain(max_seconds=1) or count("events", app_id) < expected:
                assert time.monotonic() < deadline, f"{expected} events not stored within 20 s"
        finally:
            drain.subscription.close()
    rows = stored_events(app_id, *COLUMNS)
    assert len(rows) == expected, [row["event_name"] for row in rows]
    return {row["event_name"]: row for row in rows}


def event_id(app_id, message_id: str) -> uuid.UUID:
    return uuid.uuid5(uuid.uuid5(MESSAGE_ID_NAMESPACE, str(app_id)), message_id)


def assert_mapped(app, rows: dict[str, dict], *, screen: str) -> None:
    """The fields each call was mapped to (the same calls from either client)."""
    user = privacy.pseudonymize(str(app.id), "user", "customer-42")
    assert set(rows) == {"identify", "install", "open", "purchase", "level_up", screen}
    assert rows["identify"]["user_id"] == user
    install = rows["install"]
    assert install["platform"] == "ios" and install["app_version"] == "2.4.0"
    assert install["device_ids"]["idfa"] == privacy.pseudonymize(str(app.id), "idfa", IDFA)
    assert install["attribution"] == {"source": "meta", "medium": "cpi", "campaign": "spring"}
    opened = rows["open"]
    assert opened["platform"] == "android" and opened["device_ids"]["gaid"] == privacy.pseudonymize(
        str(app.id), "gaid", GAID
    )
    assert opened["attribution"] == {"click_id": "6f1c2d3e4b5a4c6d8e7f0a1b2c3d4e5f"}
    purchase = rows["purchase"]
    assert (purchase["revenue"], purchase["currency"]) == (decimal.Decimal("9.99"), "EUR")
    assert purchase["user_id"] == user and purchase["properties"] == {"order_id": "o-1"}
    assert rows["level_up"]["properties"] == {"level": "7"}
    assert rows[screen]["properties"]["name"] == "Checkout"


# --- segment-analytics-python -------------------------------------------------------------------------------


@pytest.fixture
def answers():
    """Every answer the Python client's HTTP session receives (its upload thread's requests)."""
    seen = []

    def record(response, *args, **kwargs):
        seen.append(response)

    segment_request._session.hooks["response"].append(record)
    yield seen
    segment_request._session.hooks["response"].remove(record)


@pytest.fixture
def python_client(live_server):
    clients = []

    def make(write_key: str, *, messages: int = 100) -> tuple[SegmentClient, list]:
        """A client whose upload thread posts as soon as it holds ``messages`` messages (and
        otherwise after 5 s): the messages a test sends at once leave in one request."""
        errors = []
        client = SegmentClient(
            write_key,
            host=live_server.url,
            gzip=True,
            upload_size=messages,
            upload_interval=5,
            max_retries=0,
            on_error=lambda error, batch: errors.append((error, batch)),
        )
        clients.append(client)
        return client, errors

    yield make
    for client in clients:
        client.shutdown()


def python_calls(client: SegmentClient, *, message_ids: dict[str, str] | None = None) -> None:
    ids = message_ids or {}
    client.identify("customer-42", {"email": "c42@example.com", "plan": "pro"}, message_id=ids.get("identify"))
    client.track(
        anonymous_id="install-1",
        event="Application Installed",
        properties={"version": "2.4.0", "build": "240"},
        context=IOS,
        message_id=ids.get("install"),
    )
    client.track(
        anonymous_id="install-2",
        event="Application Opened",
        properties={"from_background": False},
        context=ANDROID,
        message_id=ids.get("open"),
    )
    client.track("customer-42", "Order Completed", {"order_id": "o-1", "revenue": 9.99, "currency": "EUR"})
    client.track("customer-42", "level_up", {"level": 7})
    client.screen("customer-42", name="Checkout", properties={"step": 2}, context=IOS)


def test_the_python_client_sends_every_kind_and_each_is_stored_once_with_its_mapping(python_client, answers, store_all):
    app, raw_key = app_with_key()
    client, errors = python_client(raw_key, messages=6)
    python_calls(client)
    client.flush()

    assert errors == []
    assert {response.status_code for response in answers} == {200}
    assert sum(response.json()["accepted"] for response in answers) == 6
    assert answers[0].request.headers["Content-Encoding"] == "gzip"
    rows = stored(store_all, app.id, 6)
    assert_mapped(app, rows, screen="screen_view")
    assert rows["screen_view"]["properties"] == {"step": "2", "name": "Checkout"}


def test_a_batch_the_python_client_delivers_again_is_stored_once(python_client, answers, live_server, store_all):
    app, raw_key = app_with_key()
    message_ids = {"identify": str(uuid.uuid4()), "install": str(uuid.uuid4()), "open": str(uuid.uuid4())}
    client, errors = python_client(raw_key, messages=3)
    for _ in range(2):  # the same messages again, as after an answer lost on the way back
        client.identify("customer-42", message_id=message_ids["identify"])
        client.track(anonymous_id="i-1", event="Application Installed", context=IOS, message_id=message_ids["install"])
        client.track(anonymous_id="i-2", event="Application Opened", context=ANDROID, message_id=message_ids["open"])
        client.flush()
    # and the very batch once more, as the client's upload thread posts it
    batch = [
        {"type": "identify", "userId": "customer-42", "messageId": message_ids["identify"], "context": {}},
        {"type": "track", "event": "Application Opened", "anonymousId": "i-2", "messageId": message_ids["open"]},
    ]
    segment_request.post(raw_key, live_server.url, batch=batch)

    assert errors == []
    assert [response.status_code for response in answers] == [200, 200, 200]
    assert answers[0].json()["ids"] == answers[1].json()["ids"]
    rows = stored(store_all, app.id, 3)
    assert {str(row["event_id"]) for row in rows.values()} == {str(event_id(app.id, m)) for m in message_ids.values()}


def test_the_python_client_with_a_wrong_key_is_refused(python_client, answers):
    app, _ = app_with_key()
    client, errors = python_client("ump_AAAAAAAA_not-a-key", messages=1)
    client.track("customer-42", "level_up")
    client.flush()

    assert [response.status_code for response in answers] == [401]
    ((error, batch),) = errors
    assert error.status == 401 and "write key" in str(error)
    assert [message["event"] for message in batch] == ["level_up"]
    assert count("events", app.id) == 0


def test_a_malformed_message_from_the_python_client_is_rejected_by_index_the_rest_stored(
    python_client, answers, store_all
):
    app, raw_key = app_with_key()
    client, errors = python_client(raw_key, messages=4)
    client.track("customer-42", "level_up", {"level": 1})
    client.track("customer-42", "Clicked <Buy>")  # Segment takes any name; ours are letters, digits, _ . : - and spaces
    client.track("customer-42", "Order Completed", {"revenue": 9.99, "currency": "EUR", "order_id": "o-1"})
    client.track("customer-42", "level_up", timestamp=dt.datetime.now(dt.UTC) - dt.timedelta(days=40))
    client.flush()

    assert errors == []
    (answer,) = answers
    assert answer.status_code == 200
    result = answer.json()
    assert result["accepted"] == 2
    assert [(r["index"], r["reason"].split(" ")[0]) for r in result["rejected"]] == [
        (1, "event_name"),
        (3, "timestamp"),
    ]
    assert set(stored(store_all, app.id, 2)) == {"level_up", "purchase"}


# --- @segment/analytics-node -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def node_client():
    """``send(host, write_key, calls) -> {"answers": [...], "errors": [...]}`` through the Node client,
    installed from the lock file when node_modules/ is missing or older than it."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        service_unavailable("Node.js", "no node/npm on PATH (install Node.js 20 or later)")
    installed = NODE_CLIENT / "node_modules" / ".package-lock.json"
    lock = NODE_CLIENT / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_CLIENT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            service_unavailable("@segment/analytics-node", f"npm ci failed: {done.stderr[-2000:]}")

    def send(host: str, write_key: str, calls: list[dict]) -> dict:
        done = subprocess.run(
            [node, "send.js"],
            cwd=NODE_CLIENT,
            input=json.dumps({"host": host, "writeKey": write_key, "calls": calls}),
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return send


def node_calls(*, message_ids: dict[str, str] | None = None) -> list[dict]:
    ids = message_ids or {}

    def with_id(name: str, args: dict) -> dict:
        return {**args, "messageId": ids[name]} if name in ids else args

    return [
        {"method": "identify", "args": with_id("identify", {"userId": "customer-42", "traits": {"plan": "pro"}})},
        {
            "method": "track",
            "args": with_id(
                "install",
                {"anonymousId": "install-1", "event": "Application Installed", "properties": {}, "context": IOS},
            ),
        },
        {
            "method": "track",
            "args": with_id("open", {"anonymousId": "install-2", "event": "Application Opened", "context": ANDROID}),
        },
        {
            "method": "track",
            "args": {
                "userId": "customer-42",
                "event": "Order Completed",
                "properties": {"order_id": "o-1", "revenue": 9.99, "currency": "EUR"},
            },
        },
        {"method": "track", "args": {"userId": "customer-42", "event": "level_up", "properties": {"level": 7}}},
        {
            "method": "page",
            "args": {"anonymousId": "web-1", "name": "Checkout", "properties": {"path": "/checkout"}},
        },
    ]


def test_the_node_client_sends_every_kind_and_each_is_stored_once_with_its_mapping(node_client, live_server, store_all):
    app, raw_key = app_with_key()
    outcome = node_client(live_server.url, raw_key, node_calls())

    assert outcome["errors"] == []
    ((status, body),) = [(answer["status"], json.loads(answer["body"])) for answer in outcome["answers"]]
    assert status == 200 and body["accepted"] == 6 and body["rejected"] == []
    rows = stored(store_all, app.id, 6)
    assert_mapped(app, rows, screen="page_view")
    assert rows["page_view"]["properties"] == {"path": "/checkout", "name": "Checkout"}


def test_a_batch_the_node_client_delivers_again_is_stored_once(node_client, live_server, store_all):
    app, raw_key = app_with_key()
    message_ids = {"identify": str(uuid.uuid4()), "install": str(uuid.uuid4()), "open": str(uuid.uuid4())}
    calls = [call for call in node_calls(message_ids=message_ids) if "messageId" in call["args"]]
    first = node_client(live_server.url, raw_key, calls)
    again = node_client(live_server.url, raw_key, calls)

    assert first["errors"] == again["errors"] == []
    assert json.loads(first["answers"][0]["body"])["ids"] == json.loads(again["answers"][0]["body"])["ids"]
    rows = stored(store_all, app.id, 3)
    assert {str(row["event_id"]) for row in rows.values()} == {str(event_id(app.id, m)) for m in message_ids.values()}


def test_the_node_client_with_a_wrong_key_is_refused(node_client, live_server):
    app, _ = app_with_key()
    outcome = node_client(live_server.url, "ump_AAAAAAAA_not-a-key", node_calls()[:2])

    assert [answer["status"] for answer in outcome["answers"]] == [401]
    assert "write key" in json.loads(outcome["answers"][0]["body"])["error"]
    assert outcome["errors"], "the client reports the refused delivery"
    assert count("events", app.id) == 0


def test_a_malformed_message_from_the_node_client_is_rejected_by_index_the_rest_stored(
    node_client, live_server, store_all
):
    app, raw_key = app_with_key()
    calls = [
        {"method": "track", "args": {"userId": "customer-42", "event": "level_up"}},
        {"method": "track", "args": {"userId": "customer-42", "event": "x" * 70}},
        {"method": "identify", "args": {"userId": "customer-42"}},
    ]
    outcome = node_client(live_server.url, raw_key, calls)

    body = json.loads(outcome["answers"][0]["body"])
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1] and "length <= 64" in body["rejected"][0]["reason"]
    assert set(stored(store_all, app.id, 2)) == {"level_up", "identify"}


# --- a chunked batch through gunicorn, as analytics-kotlin sends it ------------------------------------------------


@pytest.fixture(scope="module")
def gunicorn_site(tmp_path_factory):
    """The image's server (gunicorn with gunicorn.conf.py) on a migrated embedded site of its own."""
    var_dir = tmp_path_factory.mktemp("segment-gunicorn")
    site = {"env": {"VAR_DIR": str(var_dir)}}
    for command in (("migrate", "--no-input"), ("migrate_clickhouse",), ("shell", "-c", SETUP)):
        done = run_manage(*command, env=site["env"])
        assert done.returncode == 0, done.stderr
    site.update(json.loads(done.stdout.strip().splitlines()[-1]))
    port = free_port()
    server = serve("gunicorn", port, site, var_dir / "gunicorn.log")
    yield port, site["key"]
    server.terminate()
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:  # a worker still storing what it was sent: nothing to keep here
        server.kill()
        server.wait()


@pytest.mark.django_db(transaction=False)
def test_a_gzipped_batch_streamed_in_chunks_without_a_length_is_taken(gunicorn_site):
    """analytics-kotlin posts its batch file gzipped, in chunked streaming mode (no Content-Length),
    with the write key in the body: gunicorn takes the chunks apart, and the endpoint reads them."""
    port, key = gunicorn_site
    batch = {"batch": [{"type": "track", "event": "Application Opened", "anonymousId": "k-1"}], "writeKey": key}
    body = gzip.compress(json.dumps(batch).encode())
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST",
            "/v1/b",
            body=iter([body[:20], body[20:]]),
            headers={"Content-Type": "text/plain", "Content-Encoding": "gzip", "User-Agent": "analytics-kotlin/1.19.1"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        answer = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 200, answer
    assert answer["accepted"] == 1 and answer["rejected"] == []
