"""POST /api/events end to end: contract, validation, privacy, signatures, idempotency, dead letters."""

import datetime as dt
import decimal
import gc
import hashlib
import hmac
import logging
import time
import types
import uuid

import msgspec
import orjson
import pytest
from django.conf import settings
from django.db import connection

from apps_registry import keys
from core import clickhouse
from events import privacy
from events.bus import Message, get_bus, topics
from events.bus.outbox import unpacked
from events.ingestion.services import EventRows, decode_events, ingest_events
from events.models import OutboxMessage
from events.rows import TouchRow, bus_key
from tests.ingestion import DEVICE_IP, app_with_key, count, event, post_events, stored_events

pytestmark = pytest.mark.django_db


@pytest.fixture
def app_key():
    return app_with_key()


# --- transport contract ---------------------------------------------------------------------------


def test_unknown_missing_and_revoked_keys_are_refused(app_key):
    app, raw_key = app_key
    assert post_events("", [event()]).status_code == 401
    assert post_events("ump_AAAAAAAA_nope", [event()]).status_code == 401
    key = app.api_keys.get()
    keys.api_key_revoke(key=key)
    response = post_events(raw_key, [event()])
    assert response.status_code == 401 and "X-Api-Key" in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"not json", 400, "Body must be JSON"),
        (b"[]", 400, "Body must be JSON"),
        (b'{"events": []}', 400, "no events"),
        (b'{"event_name": "open"}', 400, "Body must be JSON"),
        (orjson.dumps({"events": [{"event_name": "open"}] * 1001}), 413, "At most 1000 events"),
    ],
)
def test_unreadable_batches_are_refused_whole(app_key, body, status, message):
    response = post_events(app_key[1], body=body)
    assert response.status_code == status
    assert message in response.json()["error"]


def test_size_limits(app_key, settings):
    settings.INGEST_MAX_BODY_BYTES = 2000
    big = post_events(app_key[1], [event(properties={"p": "x" * 1000}), event(properties={"p": "y" * 1000})])
    assert big.status_code == 413 and "larger than 2000 bytes" in big.json()["error"]
    settings.INGEST_MAX_DECOMPRESSED_BYTES = 3000
    bomb = post_events(
        app_key[1], body=orjson.dumps({"events": [event(properties={"p": "z" * 1000})] * 5}), gzip_body=True
    )
    assert bomb.status_code == 413 and "Decompressed body" in bomb.json()["error"]


def test_gzip_bodies_are_accepted(app_key):
    response = post_events(app_key[1], [event(), event()], gzip_body=True)
    assert response.status_code == 202 and response.json()["accepted"] == 2


def test_a_body_that_claims_gzip_but_is_not_is_refused(app_key):
    response = post_events(app_key[1], body=b'{"events": []}', HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 400 and "not valid gzip" in response.json()["error"]


# --- per-event validation ---------------------------------------------------------------------------

NOW = dt.datetime.now(dt.UTC)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"event_name": ""}, "length >= 1"),
        ({"event_name": "x" * 65}, "length <= 64"),
        ({"event_name": "bad<name>"}, "event_name may contain only letters, digits"),
        ({"event_name": "trailing newline\n"}, "event_name may contain only letters, digits"),
        ({"event_id": "not-a-uuid"}, "Invalid UUID"),
        ({"timestamp": "2026-01-01T00:00:00"}, "needs a UTC offset"),
        ({"timestamp": (NOW - dt.timedelta(days=31)).isoformat()}, "more than 30 days in the past"),
        ({"timestamp": 10**17}, "not a valid epoch"),
        ({"revenue": -1, "currency": "USD"}, ">= 0"),
        ({"revenue": 9.99}, "currency is required with revenue"),
        ({"revenue": 9.99, "currency": "usd"}, "matching regex"),
        ({"platform": "symbian"}, "Invalid enum value 'symbian' - at `$.platform`"),
        ({"device_ids": {"idfa": "x" * 129}}, "length <= 128"),
        ({"device_ids": {"imei": "123"}}, "Invalid enum value 'imei' - at `key` in `$.device_ids`"),
        ({"properties": {f"k{i}": i for i in range(51)}}, "length <= 50"),
        ({"properties": {"k" * 65: 1}}, "length <= 64"),
        ({"properties": {"nested": {"a": 1}}}, "got `object`"),
        ({"consent": "yes"}, "Expected `bool`"),
        ({"surprise": 1}, "unknown field `surprise`"),
        ({"attribution": {"campaign": 5}}, "Expected `str | null`"),
    ],
)
def test_each_validation_rule_rejects_with_a_reason(app_key, fields, reason):
    response = post_events(app_key[1], [event(**fields)])
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 0
    assert body["rejected"][0]["index"] == 0
    assert reason in body["rejected"][0]["reason"]


def test_a_mixed_batch_stores_exactly_the_good_events(app_key, store_all):
    app, raw_key = app_key
    good = [
        event(event_name="open"),
        event(event_name="purchase", revenue=4.99, currency="EUR"),
        event(event_name="level_up"),
    ]
    batch = [good[0], {"event_name": ""}, good[1], {"nope": 1}, good[2]]
    body = post_events(raw_key, batch).json()
    assert body["accepted"] == 3
    assert [r["index"] for r in body["rejected"]] == [1, 3]
    store_all(until=lambda: count("events", app.id) >= 3)
    assert sorted(row["event_id"] for row in stored_events(app.id)) == sorted(uuid.UUID(e["event_id"]) for e in good)


def test_event_ids_are_generated_when_absent_and_returned(app_key, store_all):
    app, raw_key = app_key
    body = post_events(raw_key, [{"event_name": "open"}, {"event_name": "open"}]).json()
    assert len(set(body["ids"])) == 2
    store_all(until=lambda: count("events", app.id) >= 2)
    assert {str(r["event_id"]) for r in stored_events(app.id)} == set(body["ids"])


def test_a_clock_far_in_the_future_is_corrected_and_the_skew_recorded(app_key, store_all):
    app, raw_key = app_key
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    post_events(raw_key, [event(timestamp=future.isoformat())])
    store_all(until=lambda: count("events", app.id) >= 1)
    row = stored_events(app.id, "timestamp", "received_at", "clock_skew_ms")[0]
    assert row["timestamp"] == row["received_at"]
    assert -2 * 86_400_000 - 5000 < row["clock_skew_ms"] < -2 * 86_400_000 + 5000


# --- values and privacy, end to end --------------------------------------------------------------------


def test_posted_events_are_stored_with_their_values_and_no_raw_identifiers(app_key, store_all, caplog):
    app, raw_key = app_key
    caplog.set_level(logging.DEBUG)
    sent = event(
        event_name="purchase",
        timestamp="2026-11-20T10:00:00.250Z",
        user_id="customer-8812",
        session_id="s-1",
        device_ids={"idfa": "AEBE52E7-03EE-455A-B3C4-E57283966239", "idfv": "V-1"},
        app_version="3.1.0",
        locale="de_DE",
        country="DE",
        attribution={"source": "meta", "campaign": "spring", "click_id": "abc"},
        revenue=19.99,
        currency="EUR",
        properties={"sku": "pro", "qty": 2, "gift": True},
    )
    assert post_events(raw_key, [sent]).json()["accepted"] == 1
    on_the_bus = [unpacked(bytes(p)) for p in OutboxMessage.objects.values_list("payload", flat=True)]
    assert settings.KAFKA_BOOTSTRAP_SERVERS or b'"ip_prefix":"203.0.113.0"' in b"".join(on_the_bus)
    store_all(until=lambda: count("events", app.id) >= 1)
    row = stored_events(app.id, "*")[0]
    assert row["event_id"] == uuid.UUID(sent["event_id"])
    assert row["timestamp"] == dt.datetime(2026, 11, 20, 10, 0, 0, 250000, tzinfo=dt.UTC)
    assert (row["platform"], row["os_name"], row["os_version"], row["device_model"]) == ("ios", "iOS", "18.1", "iPhone")
    assert row["ip_prefix"] == "203.0.113.0"
    assert row["user_id"] == privacy.pseudonymize(str(app.id), "user", "customer-8812") != "customer-8812"
    assert row["device_ids"]["idfa"] == privacy.pseudonymize(str(app.id), "idfa", sent["device_ids"]["idfa"])
    assert row["device_id"] == row["device_ids"]["idfa"]
    assert row["attribution"] == {"source": "meta", "campaign": "spring", "click_id": "abc"}
    assert row["revenue"] == decimal.Decimal("19.99") and row["currency"] == "EUR"
    assert row["properties"] == {"sku": "pro", "qty": "2", "gift": "true"}
    everything = str(clickhouse.execute("SELECT * FROM events WHERE app_id = {a:UUID}", {"a": app.id}, tag="t").rows)
    everything += str(on_the_bus) + caplog.text
    assert DEVICE_IP not in everything
    assert "customer-8812" not in everything and "AEBE52E7-03EE-455A-B3C4-E57283966239" not in everything


def test_without_consent_no_identifier_is_kept(app_key, store_all):
    app, raw_key = app_key
    post_events(raw_key, [event(consent=False, user_id="u1", session_id="s1", device_ids={"gaid": "g-1"})])
    store_all(until=lambda: count("events", app.id) >= 1)
    row = stored_events(app.id, "user_id", "session_id", "device_id", "device_ids", "ip_prefix", "user_agent")[0]
    assert row == {
        "user_id": "",
        "session_id": "",
        "device_id": "",
        "device_ids": {},
        "ip_prefix": "",
        "user_agent": "",
    }


def test_ipv6_is_truncated_to_48_bits(app_key, store_all):
    app, raw_key = app_key
    post_events(raw_key, [event(ip="2001:db8:abcd:12:1:2:3:4")])
    store_all(until=lambda: count("events", app.id) >= 1)
    assert stored_events(app.id, "ip_prefix")[0]["ip_prefix"] == "2001:db8:abcd::"


# --- signatures --------------------------------------------------------------------------------------


def signed(app, raw_key, events, *, at=None, secret=None, tamper=False):
    body = orjson.dumps({"events": events})
    timestamp = str(int(at if at is not None else time.time()))
    secret = secret or keys.signing_secret(app_id=app.id, version=app.signing_secret_version)
    signature = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if tamper:
        body = body.replace(b"open", b"shut")
    return post_events(raw_key, body=body, HTTP_X_UMP_TIMESTAMP=timestamp, HTTP_X_UMP_SIGNATURE=signature)


def test_signatures_when_required():
    app, raw_key = app_with_key(signing_policy="required")
    assert post_events(raw_key, [event()]).status_code == 401  # missing
    assert signed(app, raw_key, [event(event_name="open")], tamper=True).status_code == 401  # bad
    assert signed(app, raw_key, [event()], at=time.time() - 301).status_code == 401  # stale
    assert signed(app, raw_key, [event()], secret="another secret").status_code == 401  # wrong secret
    body, at = [event()], time.time()
    assert signed(app, raw_key, body, at=at).status_code == 202
    replay = signed(app, raw_key, body, at=at)  # the very same request again
    assert replay.status_code == 409 and "replay" in replay.json()["error"]


def test_each_api_key_has_its_own_rate_limit_per_minute(settings, monkeypatch):
    settings.INGEST_RATE_LIMIT_PER_KEY = 2
    now = 1_800_000_030.0  # 30 s into a minute
    monkeypatch.setattr("events.ingestion.views.time", types.SimpleNamespace(time=lambda: now))
    (_, first), (_, second) = app_with_key(), app_with_key()
    assert [post_events(first, [event()]).status_code for _ in range(3)] == [202, 202, 429]
    refused = post_events(first, [event()])
    assert refused.status_code == 429 and refused["Retry-After"] == "30"
    assert "Rate limit" in refused.json()["error"]
    assert post_events(second, [event()]).status_code == 202
    now += 60  # the next minute is a new window
    assert post_events(first, [event()]).status_code == 202


def test_signatures_when_optional_or_off():
    app, raw_key = app_with_key(signing_policy="optional")
    assert post_events(raw_key, [event()]).status_code == 202
    assert signed(app, raw_key, [event(event_name="open")], tamper=True).status_code == 401
    off_app, off_key = app_with_key(signing_policy="off")
    assert signed(off_app, off_key, [event(event_name="open")], tamper=True).status_code == 202


# --- idempotency and dead letters -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_one_event_id_sent_many_times_in_parallel_is_counted_once(store_all):
    from concurrent.futures import ThreadPoolExecutor

    app, raw_key = app_with_key()
    same = event(event_name="purchase", revenue=1.0, currency="USD", timestamp="2026-11-25T08:00:00Z")

    def send(_):
        try:
            return post_events(raw_key, [same]).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert set(pool.map(send, range(30))) == {202}
    assert post_events(raw_key, [{**same, "timestamp": "2026-11-25T09:00:00Z"}]).status_code == 202  # re-sent later
    store_all(until=lambda: count("events", app.id) >= 1)
    store_all()
    assert count("events", app.id) == 1
    stored = clickhouse.execute(
        "SELECT count(), sum(revenue) FROM events FINAL WHERE app_id = {a:UUID}", {"a": app.id}, tag="t"
    ).rows[0]
    assert stored == (1, decimal.Decimal("1"))


def test_a_message_that_does_not_fit_is_dead_lettered_with_its_reason(store_all):
    app, raw_key = app_with_key()
    post_events(raw_key, [event(event_name="open")])
    poison = orjson.dumps({"app_id": str(app.id), "event_id": "not-a-uuid"})
    get_bus().publish(topics.EVENTS, [Message(key="poison", value=poison)])
    store_all(until=lambda: count("events", app.id) >= 1)
    store_all()
    dead = clickhouse.execute(
        "SELECT topic, payload, reason FROM dead_letters WHERE payload = {p:String}", {"p": poison.decode()}, tag="t"
    ).rows
    assert len(dead) == 1
    assert dead[0][0] == topics.EVENTS and "does not fit events" in dead[0][2]


def test_browsers_get_cors_answers_and_beacons_carry_the_key_in_the_body_never_the_url(app_key):
    from django.test import Client

    preflight = Client().options("/api/events", HTTP_ORIGIN="https://shop.example.com")
    assert preflight.status_code == 204
    assert "X-Api-Key" in preflight["Access-Control-Allow-Headers"]
    batch = {"api_key": app_key[1], "events": [event()]}
    beacon = Client().post("/api/events", orjson.dumps(batch), content_type="text/plain")
    assert beacon.status_code == 202 and beacon["Access-Control-Allow-Origin"] == "*"
    assert beacon.json()["accepted"] == 1
    # The key in the query string (URLs end up in access logs) is no way in.
    in_url = Client().post(
        f"/api/events?api_key={app_key[1]}", orjson.dumps({"events": [event()]}), content_type="text/plain"
    )
    assert in_url.status_code == 401
    wrong = Client().post("/api/events", orjson.dumps({**batch, "api_key": "ump_x_y"}), content_type="text/plain")
    assert wrong.status_code == 401
    header_wins = post_events(app_key[1], body=orjson.dumps({**batch, "api_key": "ump_x_y"}))
    assert header_wins.status_code == 202


def test_dead_letters_can_be_replayed_after_a_fix(store_all):
    from django.core.management import call_command

    app, _ = app_with_key()
    row_id = uuid.uuid4()
    broken = {"app_id": str(app.id), "event_id": str(row_id), "event_name": "open"}  # fields missing
    get_bus().publish(topics.EVENTS, [Message(key="broken", value=orjson.dumps(broken))])
    pending = "SELECT count() FROM dead_letters FINAL WHERE replayed_at IS NULL AND position(payload, {a:String}) > 0"

    def dead_letters() -> int:
        return clickhouse.execute(pending, {"a": str(row_id)}, tag="t").scalar()

    store_all(until=lambda: dead_letters() == 1)
    call_command("replay_dead_letters", topic=topics.EVENTS)
    assert dead_letters() == 0
    store_all(until=lambda: dead_letters() == 1)  # still does not fit: dead-lettered anew, never lost
    assert dead_letters() == 1


def test_a_signed_request_refused_with_503_can_be_retried(settings):
    app, raw_key = app_with_key(signing_policy="required")
    body, at = [event()], time.time()
    settings.KAFKA_BOOTSTRAP_SERVERS = "127.0.0.1:9"  # nothing listens: the bus cannot confirm
    settings.KAFKA_DELIVERY_TIMEOUT_SECONDS = 0.5
    assert signed(app, raw_key, body, at=at).status_code == 503
    settings.KAFKA_BOOTSTRAP_SERVERS = ""
    from events.bus import reset_bus

    reset_bus()
    assert signed(app, raw_key, body, at=at).status_code == 202  # the same request again: not a replay


@pytest.mark.services
def test_ingestion_keeps_accepting_when_redis_is_down(settings, redis_url):
    from tests.conftest import free_port

    _, raw_key = app_with_key()
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    response = post_events(raw_key, [event()])
    assert response.status_code == 202, response.content


def test_decoded_events_and_their_rows_stay_out_of_the_garbage_collector():
    """Hundreds are made per request: each tracked one would bring the collector's next pass closer."""
    (decoded,) = decode_events(orjson.dumps({"events": [event(properties={"n": 1})]}))
    rows = EventRows(app_id=uuid.uuid4(), ip=DEVICE_IP, user_agent="", received_at=dt.datetime.now(dt.UTC))
    row = rows.row(decoded)
    assert not any(gc.is_tracked(o) for o in (decoded, decoded.device_ids, decoded.attribution, row))


def test_every_request_of_one_device_has_the_same_bus_key(monkeypatch):
    """The key picks the Kafka partition, so the consumer: a device's event sent again, in whatever
    request, is checked by the consumer that stored the first copy, never stored by two at once."""
    published = []
    monkeypatch.setattr("events.ingestion.services.publish", lambda topic, messages: published.extend(messages))
    principal = keys.ApiKeyPrincipal(uuid.uuid4(), uuid.uuid4(), "off", 1)

    def key_of(*events: dict) -> str:
        body = orjson.dumps({"events": list(events)})
        ingest_events(principal=principal, events=decode_events(body), ip=DEVICE_IP, user_agent="")
        return published[-1].key

    phone, other = {"idfv": "phone"}, {"idfv": "another phone"}
    first = key_of(event(device_ids=phone), event(device_ids=other))
    assert first == key_of(event(event_name="open", device_ids=phone)) != key_of(event(device_ids=other))
    assert key_of(event(user_id="u1"), event(user_id="u2")) == key_of(event(user_id="u1"))
    anonymous = event(device_ids=phone, consent=False)
    assert key_of(anonymous) == anonymous["event_id"]
    now, app_id, touch_id = dt.datetime.now(dt.UTC), uuid.uuid4(), uuid.uuid4()
    touch = TouchRow(app_id=app_id, touch_id=touch_id, touch_type="click", timestamp=now, received_at=now)
    assert bus_key(touch) == str(touch_id) and bus_key(msgspec.structs.replace(touch, device_id="d")) == "d"


def test_a_device_is_known_by_the_same_one_of_its_ids_in_whatever_order_it_sends_them():
    rows = EventRows(app_id=uuid.uuid4(), ip=DEVICE_IP, user_agent="", received_at=dt.datetime.now(dt.UTC))

    def row(device_ids: dict):
        return rows.row(decode_events(orjson.dumps({"events": [event(device_ids=device_ids)]}))[0])

    first = row({"web_id": "w-1", "gaid": "g-1"})
    again = row({"gaid": "g-1", "idfa": None, "web_id": "w-1", "idfv": ""})
    assert first.device_ids == again.device_ids and set(first.device_ids) == {"gaid", "web_id"}
    assert first.device_id == again.device_id == first.device_ids["gaid"]
    assert row({"web_id": "w-1"}).device_id == first.device_ids["web_id"] and row({}).device_id == ""


def test_the_row_builder_passes_eventrows_fields_in_their_order():
    """EventRows.row builds rows by position (a hot path): a reordered struct must stop the import,
    never mis-assign values silently."""
    from events.ingestion import services
    from events.rows import EventRow

    assert EventRow.__struct_fields__ == services.ROW_ORDER
    app_id = uuid.uuid4()
    rows = services.EventRows(app_id=app_id, ip="203.0.113.9", user_agent="", received_at=dt.datetime.now(dt.UTC))
    event = msgspec.json.decode(
        orjson.dumps({"event_name": "purchase", "revenue": 1.5, "currency": "EUR", "country": "DE", "locale": "de"}),
        type=services.Event,
    )
    row = rows.row(event)
    assert (row.app_id, row.event_name, row.currency) == (app_id, "purchase", "EUR")
    assert (row.country, row.locale) == ("DE", "de")
    assert row.ip_prefix == "203.0.113.0" and row.revenue == decimal.Decimal("1.5")
