"""Segment's tracking API (/v1/batch, /v1/track, ...): the same ingestion as /api/events behind
another decoder. Authentication, limits, the mapping of the spec to our events, per-message
rejections, idempotency by messageId, and attribution of the spec's mobile lifecycle events.
(The official Segment clients against a live server: tests/test_segment_clients.py.)"""

import base64
import datetime as dt
import decimal
import gzip
import io
import time
import types
import uuid
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps_registry import keys, links
from events import privacy
from events.attribution_engine import services
from events.ingestion.segment import spec
from events.ingestion.segment.mapping import MESSAGE_ID_NAMESPACE
from tests import attribution_data as data
from tests.factories import UserFactory, bearer, grant
from tests.ingestion import ANDROID_UA, DEVICE_IP, IOS_UA, app_with_key, count, stored_events
from tests.test_openapi import validator

pytestmark = pytest.mark.django_db

IDFA = "7A3CBEA0-BDF5-11E4-8DFC-AA07A5B093DB"
IDFV = "B5372DB0-C21E-11E4-8DFC-AA07A5B093DB"
GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"
ANDROID_ID = "9774d56d682e549c"


def installed(**fields) -> dict:
    """Segment's documented `Application Installed` (the mobile spec) with the documented context of
    an iOS device (the spec's common fields), as analytics-swift sends it."""
    message = {
        "type": "track",
        "event": "Application Installed",
        "properties": {"version": "1.1.2", "build": "1234"},
        "messageId": str(uuid.uuid4()),
        "anonymousId": "507f191e810c19729de860ea",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
        "context": {
            "app": {"name": "InitechGlobal", "version": "545", "build": "3.0.1.545", "namespace": "com.example"},
            "device": {
                "id": IDFV,
                "advertisingId": IDFA,
                "adTrackingEnabled": True,
                "manufacturer": "Apple",
                "model": "iPhone7,2",
                "name": "maguro",
                "type": "ios",
            },
            "library": {"name": "analytics-swift", "version": "1.5.0"},
            "locale": "en-US",
            "network": {"bluetooth": False, "carrier": "T-Mobile US", "cellular": True, "wifi": False},
            "os": {"name": "iPhone OS", "version": "18.1"},
            "screen": {"width": 320, "height": 568, "density": 2},
            "timezone": "Europe/Amsterdam",
            "traits": {"email": "peter@example.com"},
        },
        "integrations": {"All": True},
    }
    return {**message, **fields}


def android(message: dict, **device) -> dict:
    context = {
        **message["context"],
        "device": {"id": ANDROID_ID, "advertisingId": GAID, "adTrackingEnabled": True, "type": "android", **device},
        "os": {"name": "Android", "version": "15"},
        "library": {"name": "analytics-kotlin", "version": "1.19.1"},
    }
    return {**message, "context": context}


def basic(raw_key: str) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{raw_key}:".encode()).decode()}


def post_segment(raw_key: str | None, body, *, path: str = "/v1/batch", gzip_body: bool = False, **headers):
    payload = body if isinstance(body, bytes) else orjson.dumps(body)
    extra = {"REMOTE_ADDR": DEVICE_IP, "HTTP_USER_AGENT": "analytics-python/2.4.0", **headers}
    if raw_key is not None:
        extra.update(basic(raw_key))
    if gzip_body:
        payload = gzip.compress(payload)
        extra["HTTP_CONTENT_ENCODING"] = "gzip"
    return Client().generic("POST", path, data=payload, content_type="application/json", **extra)


def event_id(app_id, message_id: str) -> uuid.UUID:
    return uuid.uuid5(uuid.uuid5(MESSAGE_ID_NAMESPACE, str(app_id)), message_id)


@pytest.fixture
def app_key():
    return app_with_key()


# --- authentication and transport ------------------------------------------------------------------------


def test_the_write_key_is_the_basic_user_name_or_the_bodys_write_key(app_key):
    _, raw_key = app_key
    answer = post_segment(raw_key, {"batch": [installed()]})
    assert answer.status_code == 200, answer.content
    assert answer.json()["success"] is True and answer.json()["accepted"] == 1
    in_body = post_segment(None, {"batch": [installed()], "writeKey": raw_key}, CONTENT_TYPE="text/plain")
    assert in_body.status_code == 200 and in_body.json()["accepted"] == 1
    without_colon = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(raw_key.encode()).decode()}
    assert post_segment(None, {"batch": [installed()]}, **without_colon).status_code == 200
    single = post_segment(None, {**installed(), "writeKey": raw_key}, path="/v1/track")
    assert single.status_code == 200 and single.json()["accepted"] == 1


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"ump_AAAAAAAA_nope:").decode()},
        {"HTTP_AUTHORIZATION": "Basic not base64!"},
        {"HTTP_AUTHORIZATION": "Bearer ump_AAAAAAAA_nope"},
    ],
    ids=["none", "unknown key", "unreadable basic", "bearer"],
)
def test_a_wrong_or_missing_write_key_is_refused(app_key, credentials):
    answer = post_segment(None, {"batch": [installed()]}, **credentials)
    assert answer.status_code == 401
    assert "write key" in answer.json()["error"]


def test_the_header_wins_over_the_body_and_a_revoked_key_is_refused(app_key):
    app, raw_key = app_key
    assert post_segment("ump_AAAAAAAA_nope", {"batch": [installed()], "writeKey": raw_key}).status_code == 401
    keys.api_key_revoke(key=app.api_keys.get())
    assert post_segment(raw_key, {"batch": [installed()]}).status_code == 401


def test_users_tokens_are_no_write_keys():
    """Every kind of caller of the API (the authorization matrix's) against the ingestion door: only
    an app's key is let in, and it writes into its own app, whatever the body says."""
    (app_a, key_a), (app_b, key_b) = app_with_key(), app_with_key()
    readonly, user, other, admin = (UserFactory(role=role) for role in ("readonly", "user", "user", "admin"))
    grant(readonly, app_a, "view_app")
    grant(user, app_a, "view_app", "change_app", "view_analytics", "manage_keys")
    grant(other, app_b, "view_app", "change_app", "view_analytics")
    body = {"batch": [installed()]}
    for caller in (None, readonly, user, other, admin):
        headers = bearer(caller) if caller is not None else {}
        assert post_segment(None, body, **headers).status_code == 401
    answer = post_segment(key_b, {**body, "writeKey": key_a})
    assert answer.status_code == 200
    (stored_id,) = answer.json()["ids"]
    assert stored_id == str(event_id(app_b.id, body["batch"][0]["messageId"]))


def test_an_app_that_requires_signatures_refuses_unsigned_segment_requests_with_the_reason():
    _, required = app_with_key(signing_policy="required")
    refused = post_segment(required, {"batch": [installed()]})
    assert refused.status_code == 401
    assert "Segment's SDKs do not send" in refused.json()["error"] and "optional or off" in refused.json()["error"]
    _, optional = app_with_key(signing_policy="optional")
    assert post_segment(optional, {"batch": [installed()]}).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"not json", 400, 'Body must be JSON {"batch": [...]}'),
        (b'{"events": []}', 400, 'Body must be JSON {"batch": [...]}'),
        (b'{"batch": []}', 400, "no events"),
        (orjson.dumps({"batch": [{"type": "identify", "userId": "u"}] * 1001}), 413, "At most 1000 events"),
    ],
)
def test_unreadable_batches_are_refused_whole(app_key, body, status, message):
    answer = post_segment(app_key[1], body)
    assert answer.status_code == status
    assert message in answer.json()["error"]


def test_the_same_size_limits_and_gzip(app_key, settings):
    _, raw_key = app_key
    zipped = post_segment(raw_key, {"batch": [installed(), installed()]}, gzip_body=True)
    assert zipped.status_code == 200 and zipped.json()["accepted"] == 2
    broken = post_segment(raw_key, b"not gzip", HTTP_CONTENT_ENCODING="gzip")
    assert broken.status_code == 400 and "not valid gzip" in broken.json()["error"]
    settings.INGEST_MAX_BODY_BYTES = 2000
    assert post_segment(raw_key, {"batch": [installed()] * 3}).status_code == 413
    settings.INGEST_MAX_DECOMPRESSED_BYTES = 3000
    bomb = post_segment(raw_key, {"batch": [installed()] * 5}, gzip_body=True)
    assert bomb.status_code == 413 and "Decompressed body" in bomb.json()["error"]


def test_a_chunked_body_without_content_length_is_read_when_the_server_dechunks_it(app_key):
    """analytics-kotlin streams its gzipped batches chunked: gunicorn takes the chunks apart and says
    so (wsgi.input_terminated); Django alone would read no body without a Content-Length."""
    _, raw_key = app_key
    body = gzip.compress(orjson.dumps({"batch": [installed()], "writeKey": raw_key}))
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/v1/b",
        "CONTENT_TYPE": "text/plain",
        "HTTP_CONTENT_ENCODING": "gzip",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
    }
    answer = Client().request(**environ)
    assert answer.status_code == 200, answer.content
    assert answer.json()["accepted"] == 1


def test_rate_limit_and_an_unavailable_bus_answer_what_segment_clients_retry(app_key, settings, monkeypatch):
    _, raw_key = app_key
    settings.INGEST_RATE_LIMIT_PER_KEY = 1
    monkeypatch.setattr("events.ingestion.views.time", types.SimpleNamespace(time=lambda: 1_800_000_030.0))
    assert post_segment(raw_key, {"batch": [installed()]}).status_code == 200
    limited = post_segment(raw_key, {"batch": [installed()]})
    assert limited.status_code == 429 and limited["Retry-After"] == "30"
    settings.INGEST_RATE_LIMIT_PER_KEY = 100
    settings.KAFKA_BOOTSTRAP_SERVERS = "127.0.0.1:9"  # nothing listens: the bus cannot confirm
    settings.KAFKA_DELIVERY_TIMEOUT_SECONDS = 0.5
    from events.bus import reset_bus

    reset_bus()
    unavailable = post_segment(raw_key, {"batch": [installed()]})
    assert unavailable.status_code == 503 and unavailable["Retry-After"]


def test_browsers_get_the_cors_answers_analytics_js_needs(app_key):
    preflight = Client().options("/v1/b", HTTP_ORIGIN="https://shop.example.com")
    assert preflight.status_code == 204
    allowed = preflight["Access-Control-Allow-Headers"]
    assert "Authorization" in allowed and "X-Retry-Count" in allowed
    answer = post_segment(app_key[1], {"batch": [installed()]}, path="/v1/b")
    assert answer.status_code == 200 and answer["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v1/track", {"event": "Level Up", "userId": "u1"}),
        ("/v1/t", {"type": "track", "event": "Level Up", "userId": "u1"}),
        ("/v1/identify", {"userId": "u1", "traits": {"email": "u1@example.com"}}),
        ("/v1/i", {"userId": "u1"}),
        ("/v1/page", {"name": "Home", "anonymousId": "a1", "context": {"page": {"path": "/"}}}),
        ("/v1/p", {"anonymousId": "a1"}),
        ("/v1/screen", {"name": "Shop", "userId": "u1"}),
        ("/v1/s", {"userId": "u1"}),
        ("/v1/alias", {"previousId": "a1", "userId": "u1"}),
        ("/v1/a", {"previousId": "a1", "userId": "u1"}),
        ("/v1/group", {"groupId": 7, "userId": "u1", "traits": {"name": "Initech"}}),
        ("/v1/g", {"groupId": "g1", "userId": "u1"}),
    ],
)
def test_each_single_message_endpoint_takes_its_kind(app_key, path, message):
    answer = post_segment(app_key[1], message, path=path)
    assert answer.status_code == 200, answer.content
    assert answer.json()["accepted"] == 1, answer.json()


def test_a_single_message_endpoint_rejects_another_kind_by_index(app_key):
    answer = post_segment(app_key[1], {"type": "page", "userId": "u1"}, path="/v1/track")
    assert answer.status_code == 200
    assert answer.json()["rejected"] == [{"index": 0, "reason": "Invalid value 'page' - at `$.type`"}]


# --- per-message validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"type": "screenview", "userId": "u"}, "Invalid value 'screenview' - at `$.type`"),
        ({"event": "x", "userId": "u"}, "Object missing required field `type`"),
        ({"type": "track", "userId": "u"}, "Object missing required field `event`"),
        ({"type": "identify"}, "a message needs a userId or an anonymousId"),
        ({"type": "track", "event": "Clicked <b>", "userId": "u"}, "event_name may contain only"),
        ({"type": "track", "event": "x" * 65, "userId": "u"}, "length <= 64 - at `$.event`"),
        ({"type": "identify", "userId": "u", "timestamp": "2026-01-01T00:00:00"}, "needs a UTC offset"),
        ({"type": "identify", "userId": "u", "timestamp": "2020-01-01T00:00:00Z"}, "more than 30 days in the past"),
        ({"type": "track", "event": "e", "userId": "u", "properties": {"revenue": "9.99"}}, "properties.revenue must"),
        ({"type": "track", "event": "e", "userId": "u", "properties": {"total": -1}}, "properties.total must"),
        (
            {"type": "track", "event": "e", "userId": "u", "properties": {"revenue": 1, "currency": "euro"}},
            "properties.currency must be an ISO 4217 code",
        ),
        ({"type": "track", "event": "e", "userId": "u", "properties": {f"p{i}": i for i in range(51)}}, "at most 50"),
        ({"type": "identify", "userId": "u", "context": {"device": {"id": "x" * 129}}}, "`$.context.device.id`"),
        ({"type": "identify", "userId": "u", "context": {"ip": 7}}, "Expected `str | null`, got `int`"),
    ],
)
def test_each_bad_message_is_rejected_by_index_and_the_rest_stored(app_key, store_all, message, reason):
    app, raw_key = app_key
    good = [installed(), {"type": "identify", "userId": "u-1", "messageId": "m-good"}]
    answer = post_segment(raw_key, {"batch": [good[0], message, good[1]]})
    assert answer.status_code == 200
    body = answer.json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1]
    assert reason in body["rejected"][0]["reason"]
    store_all(until=lambda: count("events", app.id) >= 2)
    assert sorted(row["event_name"] for row in stored_events(app.id)) == ["identify", "install"]


# --- the mapping, end to end ---------------------------------------------------------------------------------

COLUMNS = (
    "event_id",
    "event_name",
    "platform",
    "device_id",
    "device_ids",
    "user_id",
    "app_version",
    "os_name",
    "os_version",
    "device_model",
    "locale",
    "country",
    "ip_prefix",
    "user_agent",
    "attribution",
    "revenue",
    "currency",
    "properties",
    "consent",
)


def pseudonym(app, kind: str, value: str) -> str:
    return privacy.pseudonymize(str(app.id), kind, value)


def test_the_mobile_spec_maps_onto_our_events_and_device_ids(app_key, store_all):
    app, raw_key = app_key
    install = installed()
    opened = installed(
        event="Application Opened",
        properties={"from_background": False, "url": "myapp://promo?ump_click_id=c0ffee&email=a@b.c"},
        userId="customer-42",
        messageId=str(uuid.uuid4()),
    )
    purchase = android(
        installed(
            event="Order Completed",
            messageId=str(uuid.uuid4()),
            properties={
                "order_id": "50314b8e",
                "total": 27.5,
                "revenue": 25.0,
                "currency": "eur",
                "products": [{"product_id": "507f1f77", "price": 19}],
                "coupon": None,
            },
        )
    )
    answer = post_segment(raw_key, {"batch": [install, opened, purchase], "sentAt": install["timestamp"]})
    assert answer.status_code == 200 and answer.json()["rejected"] == []
    store_all(until=lambda: count("events", app.id) >= 3)
    rows = {row["event_name"]: row for row in stored_events(app.id, *COLUMNS)}

    row = rows["install"]
    assert row["event_id"] == event_id(app.id, install["messageId"])
    assert row["device_ids"] == {
        "idfa": pseudonym(app, "idfa", IDFA),
        "idfv": pseudonym(app, "idfv", IDFV),
        "web_id": pseudonym(app, "web_id", install["anonymousId"]),
    }
    assert row["device_id"] == row["device_ids"]["idfa"]
    assert (row["platform"], row["os_name"], row["os_version"], row["device_model"]) == (
        "ios",
        "iOS",
        "18.1",
        "iPhone7,2",
    )
    assert (row["app_version"], row["locale"], row["country"]) == ("545", "en-US", "")
    assert row["properties"] == {"version": "1.1.2", "build": "1234"}
    assert row["ip_prefix"] == "203.0.113.0" and row["consent"] is True
    assert "email" not in str(row) and "peter@example.com" not in str(row), "traits are not kept"

    row = rows["open"]
    assert row["user_id"] == pseudonym(app, "user", "customer-42")
    assert row["attribution"] == {"click_id": "c0ffee"}, "the deep link's click id"
    assert row["properties"] == {"from_background": "false", "url": "myapp://promo"}, "no query string kept"

    row = rows["purchase"]
    assert row["device_ids"] == {
        "gaid": pseudonym(app, "gaid", GAID),
        "android_id": pseudonym(app, "android_id", ANDROID_ID),
        "web_id": pseudonym(app, "web_id", install["anonymousId"]),
    }
    assert (row["platform"], row["os_name"], row["os_version"]) == ("android", "Android", "15")
    assert row["revenue"] == decimal.Decimal(25) and row["currency"] == "EUR"
    assert row["properties"] == {"order_id": "50314b8e", "total": "27.5"}, "nested values and nulls left out"


def test_campaign_referrer_and_what_no_device_can_be_told_by(app_key, store_all):
    app, raw_key = app_key
    web = {
        "type": "page",
        "name": "Pricing",
        "anonymousId": "ajs-anon-1",
        "properties": {"path": "/pricing", "url": "https://shop.example.com/pricing?email=a@b.c", "search": "?x"},
        "context": {
            "campaign": {"name": "spring_sale", "source": "newsletter", "medium": "email", "term": "t", "content": "c"},
            "page": {"path": "/pricing"},
            "userAgent": IOS_UA,
            "location": {"country": "DE"},
        },
    }
    play = android(
        installed(messageId=str(uuid.uuid4())),
        advertisingId="00000000-0000-0000-0000-000000000000",
    )
    play["context"]["referrer"] = {"type": "google-play", "url": "utm_source=meta&ump_click_id=feed"}
    untracked = installed(messageId=str(uuid.uuid4()))
    untracked["context"] = {**untracked["context"], "device": {"advertisingId": IDFA, "adTrackingEnabled": False}}
    nowhere = installed(messageId=str(uuid.uuid4()), anonymousId="anon-9")
    nowhere["context"] = {"device": {"id": IDFV, "advertisingId": IDFA}, "location": {"country": "Germany"}}
    answer = post_segment(raw_key, {"batch": [web, play, untracked, nowhere]})
    assert answer.json()["accepted"] == 4
    store_all(until=lambda: count("events", app.id) >= 4)
    page, play_row, untracked_row, nowhere_row = (
        {str(row["event_id"]): row for row in stored_events(app.id, *COLUMNS)}[str(event_id)]
        for event_id in answer.json()["ids"]
    )

    assert page["event_name"] == "page_view" and page["platform"] == "web", "analytics.js sends context.page"
    assert page["attribution"] == {
        "source": "newsletter",
        "medium": "email",
        "campaign": "spring_sale",
        "content": "c",
        "term": "t",
    }
    assert page["properties"] == {"path": "/pricing", "url": "https://shop.example.com/pricing", "name": "Pricing"}
    assert page["country"] == "DE" and page["user_agent"] == IOS_UA
    assert play_row["attribution"] == {"click_id": "feed"}, "the Play install referrer's click id"
    assert set(play_row["device_ids"]) == {"android_id", "web_id"}, "an all-zero advertising id is no device's"
    assert set(untracked_row["device_ids"]) == {"web_id"}, "adTrackingEnabled false: no advertising id"
    assert set(nowhere_row["device_ids"]) == {"web_id"}, "no platform: the ids' kinds cannot be told"
    assert nowhere_row["country"] == "", "a country name is not an ISO code"


def test_a_redelivered_batch_is_stored_once_and_ids_are_per_app(app_key, store_all):
    app, raw_key = app_key
    batch = {"batch": [installed(), installed(), {"type": "identify", "userId": "u1", "messageId": "same"}]}
    first = post_segment(raw_key, batch).json()
    again = post_segment(raw_key, batch, gzip_body=True).json()
    assert first["ids"] == again["ids"] and len(set(first["ids"])) == 3
    _, other_key = app_with_key()
    assert post_segment(other_key, batch).json()["ids"][2] != first["ids"][2], "another app, another id"
    store_all(until=lambda: count("events", app.id) >= 3)
    store_all()
    assert count("events", app.id) == 3
    assert {str(row["event_id"]) for row in stored_events(app.id)} == set(first["ids"])


def test_messages_without_a_message_id_get_fresh_ids_and_ids_may_be_numbers(app_key, store_all):
    app, raw_key = app_key
    answer = post_segment(raw_key, {"batch": [{"type": "identify", "userId": 42, "anonymousId": 7}] * 2}).json()
    assert answer["accepted"] == 2 and len(set(answer["ids"])) == 2
    store_all(until=lambda: count("events", app.id) >= 2)
    row = stored_events(app.id, "user_id", "device_ids")[0]
    assert row == {"user_id": pseudonym(app, "user", "42"), "device_ids": {"web_id": pseudonym(app, "web_id", "7")}}


# --- attribution --------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_installs_sent_in_the_segment_spec_are_attributed_like_our_sdks(store_all):
    """A click on a tracking link, then the install through /v1/batch as Segment's mobile SDKs send
    it: by the advertising id on iOS (a network's server-to-server click), by the click id in the
    Play Store's install referrer on Android, organic otherwise."""
    app, raw_key = app_with_key()
    owner = UserFactory(role="user")
    grant(owner, app, "view_app", "view_analytics")
    link = links.link_create(
        app=app,
        created_by=owner,
        name="Spring",
        media_source="meta",
        campaign="spring",
        ios_url="https://apps.apple.com/app/id123",
        android_url="https://play.google.com/store/apps/details?id=com.example",
    )
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    redirect = Client().get(f"/c/{link.code}", HTTP_USER_AGENT=ANDROID_UA, REMOTE_ADDR=DEVICE_IP)
    assert redirect.status_code == 302
    install_referrer = parse_qs(urlsplit(redirect["Location"]).query)["referrer"][0]
    click = {"type": "click", "link_code": link.code, "device_ids": {"idfa": IDFA}}
    click["timestamp"] = (now - dt.timedelta(hours=3)).isoformat()
    s2s = APIClient().post(
        "/api/touchpoints",
        orjson.dumps({"touchpoints": [click]}),
        content_type="application/json",
        HTTP_X_API_KEY=raw_key,
    )
    assert s2s.status_code == 202, s2s.content

    later = (now + dt.timedelta(seconds=30)).isoformat()
    by_device = installed(timestamp=later)
    by_click = android(installed(timestamp=later, messageId=str(uuid.uuid4()), anonymousId="droid-1"))
    by_click["context"]["referrer"] = {"type": "google-play", "url": install_referrer}
    organic = android(installed(timestamp=later, messageId=str(uuid.uuid4()), anonymousId="droid-2"), id="other")
    organic["context"]["device"]["advertisingId"] = "5b6c3c9c-1f1e-4d57-9b0c-0a0c2f1e2d3c"
    answer = post_segment(raw_key, {"batch": [by_device, by_click, organic]})
    assert answer.status_code == 200 and answer.json()["accepted"] == 3
    store_all(until=lambda: count("touchpoints", app.id) >= 2 and count("events", app.id) >= 3)

    run = services.attribution_run(app=app, since=now - dt.timedelta(hours=1), until=now + dt.timedelta(hours=1))
    assert run.conversions == 3
    ids = [uuid.UUID(i) for i in answer.json()["ids"]]
    results = [data.results(app.id, conversion)["last_touch"] for conversion in ids]
    assert [(r["match_type"], r["media_source"]) for r in results] == [
        ("device_click", "meta"),
        ("click_id", "meta"),
        ("organic", ""),
    ]
    assert results[1]["ctit_seconds"] == pytest.approx(30, abs=2)


def test_timestamps_are_placed_as_ours(app_key, store_all):
    app, raw_key = app_key
    ahead = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    post_segment(raw_key, {"batch": [installed(timestamp=ahead)]})
    store_all(until=lambda: count("events", app.id) >= 1)
    row = stored_events(app.id, "timestamp", "received_at", "clock_skew_ms")[0]
    assert row["timestamp"] == row["received_at"], "a device clock far ahead: the time received"
    assert row["clock_skew_ms"] < -86_000_000
    assert time.time() - row["received_at"].timestamp() < 60


# --- the SDKs' settings, and the OpenAPI document ---------------------------------------------------------------


def test_sdks_pointed_here_for_their_settings_are_sent_to_this_instance(app_key, settings):
    settings.PUBLIC_BASE_URL = "https://track.example.com"
    _, raw_key = app_key
    answer = Client().get(f"/v1/projects/{raw_key}/settings", HTTP_ORIGIN="https://shop.example.com")
    assert answer.status_code == 200 and answer["Access-Control-Allow-Origin"] == "*"
    assert answer.json()["integrations"] == {
        "Segment.io": {"apiKey": raw_key, "apiHost": "track.example.com/v1", "protocol": "https"}
    }
    unknown = Client().get("/v1/projects/ump_AAAAAAAA_nope/settings")
    assert unknown.status_code == 404 and "write key" in unknown.json()["error"]


@pytest.fixture
def schema(client) -> dict:
    return orjson.loads(client.get("/api/schema/?format=json").content)


def test_every_segment_path_is_documented_and_the_example_is_accepted_as_documented(schema, app_key):
    routed = {f"/v1/{name}" for kind, short in spec.SHORT_PATHS.items() for name in (kind, short)}
    assert routed | {"/v1/projects/{write_key}/settings"} == {p for p in schema["paths"] if p.startswith("/v1/")}
    operation = schema["paths"]["/v1/batch"]["post"]
    assert operation["security"] == [{"segmentWriteKey": []}]
    assert schema["components"]["securitySchemes"]["segmentWriteKey"] == {
        **schema["components"]["securitySchemes"]["segmentWriteKey"],
        "type": "http",
        "scheme": "basic",
    }
    content = operation["requestBody"]["content"]["application/json"]
    example = content["examples"]["batch"]["value"]
    validator(schema, content["schema"]).validate(example)
    answer = post_segment(app_key[1], example)
    assert answer.status_code == 200 and answer.json()["accepted"] == 2
    documented = operation["responses"]["200"]["content"]["application/json"]["schema"]
    validator(schema, documented, strict=True).validate(answer.json())
    refused = post_segment("ump_AAAAAAAA_nope", example)
    documented = operation["responses"]["401"]["content"]["application/json"]["schema"]
    validator(schema, documented, strict=True).validate(refused.json())
    settings_answer = Client().get(f"/v1/projects/{app_key[1]}/settings")
    documented = schema["paths"]["/v1/projects/{write_key}/settings"]["get"]["responses"]["200"]
    validator(schema, documented["content"]["application/json"]["schema"], strict=True).validate(settings_answer.json())


def test_the_message_schemas_are_generated_from_the_decoders_structs(schema):
    import msgspec

    _, generated = msgspec.json.schema_components((spec.Track,), ref_template="#/components/schemas/Segment{name}")
    documented = schema["components"]["schemas"]["SegmentTrack"]
    for name, field in generated["Track"]["properties"].items():
        if name != "context":  # documented without its (all-absent) default
            assert {k: v for k, v in documented["properties"][name].items() if k != "description"} == field
    assert documented["required"] == ["type", "event"]
    items = schema["components"]["schemas"]["SegmentBatch"]["properties"]["batch"]
    assert items["maxItems"] == 1000 and items["items"]["discriminator"]["propertyName"] == "type"
