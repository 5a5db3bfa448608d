"""Fuzzing the API: no input is answered 5xx, and every 4xx says why.

* schemathesis generates requests from the OpenAPI document (GET /api/schema/) for every operation,
  valid and invalid, with an admin's JWT and an SDK key, and calls the WSGI application in process.
  Checks: no 5xx, every 4xx with a reason, content types and response bodies as documented.
* hypothesis sends what no schema describes to the ingestion endpoints and the sign-in: nesting past
  the recursion limit, bytes that are not UTF-8, extreme numbers and dates, bad Content-Length and
  Content-Encoding headers.

Bounded for CI: a fixed set of examples (derandomized, so a failure reproduces as it is);
``FUZZ_EXAMPLES=500`` (``make soak``) draws that many per operation and mode, at random.
"""

import base64
import gzip
import json
import os

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from apps_registry import keys, links
from tests.factories import AppFactory, UserFactory, bearer

pytestmark = pytest.mark.django_db

SOAK_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))


def budget(examples: int):
    """``examples`` drawn the same way in every run, or FUZZ_EXAMPLES at random."""
    return hypothesis_settings(
        max_examples=SOAK_EXAMPLES or examples,
        derandomize=not SOAK_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


def has_a_reason(ctx, response, case) -> None:
    """A 4xx says why: JSON {"error": "..."} (a tracking URL's plain-text 404 is its documented answer)."""
    if not 400 <= response.status_code < 500:
        return
    content_type = response.headers.get("content-type", [""])[0]
    if content_type.startswith("application/json"):
        error = json.loads(response.content).get("error")
        assert isinstance(error, str) and error, f"{response.status_code} without an error: {response.content!r}"
    else:
        assert content_type.startswith("text/plain") and response.content, (
            f"{response.status_code} as {content_type!r}: {response.content[:200]!r}"
        )


CHECKS = [not_a_server_error, has_a_reason, content_type_conformance, response_schema_conformance]


@pytest.fixture
def wsgi_app():
    """Django's WSGI handler, called in process inside the test's transaction: like the test client,
    without closing the database connection at the end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def callers(settings):
    """An admin with an app and a link (JWT), and an SDK key of another app with a link of its own:
    what the admin's calls change (archiving, a required signature) leaves the SDK's app as it is."""
    settings.API_RATE_LIMIT_PER_USER = settings.API_RATE_LIMIT_PER_IP = 10**9
    admin = UserFactory(role="admin")
    app = AppFactory(owner=admin)
    link = links.link_create(app=app, created_by=admin, name="x", media_source="m", web_url="https://x.example/")
    sdk_app = AppFactory(owner=admin)
    _, sdk_key = keys.api_key_create(app=sdk_app, created_by=admin)
    sdk_link = links.link_create(
        app=sdk_app, created_by=admin, name="y", media_source="m", web_url="https://y.example/"
    )
    headers = {"Authorization": bearer(admin)["HTTP_AUTHORIZATION"], "X-Api-Key": sdk_key}
    # Segment's endpoints take the key as an SDK sends a write key: the user name of HTTP Basic.
    write_key = "Basic " + base64.b64encode(f"{sdk_key}:".encode()).decode()
    return {
        "headers": headers,
        "segment_headers": {**headers, "Authorization": write_key},
        "app_id": str(app.id),
        "link_id": str(link.id),
        "link_code": sdk_link.code,
    }


def test_every_documented_operation(wsgi_app, callers):
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {"POST /api/events", "POST /v1/batch", "GET /c/{code}", "POST /api/auth/login"} <= {
        op.label for op in operations
    }
    for operation in operations:
        for mode in GenerationMode:
            try:
                fuzz(operation, mode, callers)
            except Unsatisfiable:
                continue  # nothing to vary: no parameters and no body (a CORS preflight in negative mode)


def fuzz(operation, mode: GenerationMode, callers: dict) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @budget(12)
    def call(case):
        if mode is GenerationMode.POSITIVE:  # a real app and link: past the 404, into the handler
            for name in ("app_id", "link_id"):
                if name in (case.path_parameters or {}):
                    case.path_parameters[name] = callers[name]
        own = callers["segment_headers" if operation.path.startswith("/v1/") else "headers"]
        case.headers = {**(case.headers or {}), **own}
        case.validate_response(case.call(), checks=CHECKS, headers=case.headers)

    call()


# --- raw bodies ------------------------------------------------------------------------------------

TIMESTAMPS = [
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999-23:59",
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-12-31T23:59:60Z",
    "1970-01-01T00:00:00Z",
    "2999-01-01T00:00:00Z",
    "20261205T120000Z",
]
NUMBERS = [2**63, -(2**63) - 1, 2**64, 10**40, -1, 0, 1e308, -1e308, 5e-324, -0.0, 1_700_000_000_000, 253402300800000]
NUMBER_TEXT = [b"1e309", b"-1e309", b"1" * 5000, b"NaN", b"Infinity", b"0x10", b"01", b"1.", b"-"]
NOT_UTF8 = [b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\x80"]
ENCODINGS = ["gzip", "GZIP", "x-gzip", "gzip, gzip", "br", "deflate", "identity", "", "\xff"]

ANYTHING = st.one_of(
    st.sampled_from(TIMESTAMPS + NUMBERS),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.booleans(),
    st.none(),
    st.dictionaries(st.text(max_size=8), st.sampled_from(NUMBERS) | st.text(max_size=8), max_size=3),
)
DEVICE_IDS = st.dictionaries(st.sampled_from(["idfa", "gaid", "web_id", "imei"]), ANYTHING, max_size=3)
# What each endpoint's items are made of: a valid core, and fields drawn extreme.
ENDPOINTS = {
    "/api/events": (
        "events",
        {"event_name": st.sampled_from(["purchase", "open", "bad name!", ""])},
        {
            "timestamp": st.sampled_from(TIMESTAMPS + NUMBERS),
            "revenue": st.sampled_from(NUMBERS) | st.floats(),
            "currency": st.sampled_from(["EUR", "eur", "EURO"]),
            "event_id": st.uuids().map(str) | ANYTHING,
            "device_ids": DEVICE_IDS,
            "properties": st.dictionaries(st.text(max_size=70), ANYTHING, max_size=60),
            "user_id": ANYTHING,
            "ip": ANYTHING,
            "consent": ANYTHING,
        },
    ),
    "/api/touchpoints": (
        "touchpoints",
        {"type": st.sampled_from(["click", "impression", "view"]), "link_code": st.just("{link_code}")},
        {
            "timestamp": st.sampled_from(TIMESTAMPS + NUMBERS),
            "touch_id": st.uuids().map(str) | ANYTHING,
            "device_ids": DEVICE_IDS,
            "ip": ANYTHING,
            "network_click_id": ANYTHING,
            "consent": ANYTHING,
        },
    ),
    "/v1/batch": (
        "batch",
        {
            "type": st.sampled_from(["track", "identify", "page", "screen", "alias", "group", "bogus"]),
            "event": st.sampled_from(["Application Installed", "Order Completed", "bad name!", ""]),
            "userId": st.sampled_from(["u-1", ""]) | ANYTHING,
        },
        {
            "timestamp": st.sampled_from(TIMESTAMPS + NUMBERS),
            "messageId": ANYTHING,
            "anonymousId": ANYTHING,
            "context": st.fixed_dictionaries(
                {},
                optional={
                    "device": st.dictionaries(
                        st.sampled_from(["type", "id", "advertisingId", "adTrackingEnabled"]), ANYTHING, max_size=4
                    ),
                    "os": st.dictionaries(st.sampled_from(["name", "version"]), ANYTHING, max_size=2),
                    "campaign": st.dictionaries(st.sampled_from(["name", "source"]), ANYTHING, max_size=2),
                    "referrer": st.dictionaries(st.sampled_from(["url", "link"]), ANYTHING, max_size=2),
                    "ip": ANYTHING,
                },
            )
            | ANYTHING,
            "properties": st.dictionaries(st.text(max_size=70), ANYTHING, max_size=60)
            | st.fixed_dictionaries({"revenue": ANYTHING, "currency": ANYTHING, "url": ANYTHING}),
        },
    ),
    "/api/auth/login": ("email", {}, {}),
}


@st.composite
def items(draw, core: dict, extremes: dict) -> dict:
    item = {field: draw(value) for field, value in core.items()}
    for field in draw(st.lists(st.sampled_from(sorted(extremes)), max_size=4)) if extremes else ():
        item[field] = draw(extremes[field])
    return item


@st.composite
def bodies(draw, path: str, link_code: str) -> bytes:
    key, core, extremes = ENDPOINTS[path]
    kind = draw(st.sampled_from(["items", "items", "nested", "number", "not_utf8", "bytes"]))
    if kind == "nested":
        depth = draw(st.integers(min_value=1, max_value=60_000))
        opening, closing = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        return b'{"%s": [' % key.encode() + opening * depth + b"1" + closing * depth + b"]}"
    if kind == "number":
        number = draw(st.sampled_from(NUMBER_TEXT))
        return b'{"%s": [{"event_name": "open", "revenue": %s, "timestamp": %s}]}' % (key.encode(), number, number)
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if key == "email":
        body = {"email": draw(ANYTHING), "password": draw(ANYTHING)}
    else:
        body = {key: draw(st.lists(items(core, extremes), min_size=1, max_size=5))}
    raw = json.dumps(body).replace("{link_code}", link_code).encode()
    if kind == "not_utf8":
        at = draw(st.integers(min_value=0, max_value=len(raw)))
        raw = raw[:at] + draw(st.sampled_from(NOT_UTF8)) + raw[at:]
    return raw


@st.composite
def requests(draw, link_code: str) -> tuple[str, bytes, dict]:
    path = draw(st.sampled_from(sorted(ENDPOINTS)))
    body = draw(bodies(path, link_code))
    headers = {}
    encoding = draw(st.none() | st.sampled_from(ENCODINGS))
    if encoding is not None:
        headers["HTTP_CONTENT_ENCODING"] = encoding
        if "gzip" in encoding.lower() and draw(st.booleans()):
            body = gzip.compress(body)
            if draw(st.booleans()):
                body = body[: draw(st.integers(min_value=0, max_value=len(body)))]  # a cut stream
    length = draw(st.sampled_from(["exact", "exact", "shorter", "text"]))
    if length == "shorter":  # a client that stopped early: the server reads what the header says
        headers["CONTENT_LENGTH"] = str(draw(st.integers(min_value=0, max_value=len(body))))
    elif length == "text":
        headers["CONTENT_LENGTH"] = draw(st.text(min_size=1, max_size=8).filter(lambda t: not t.isdigit()))
    return path, body, headers


def test_raw_bodies_on_the_ingestion_endpoints_and_the_sign_in(callers):
    client = Client(raise_request_exception=False)

    @given(request=requests(callers["link_code"]))
    @budget(200)
    def send(request):
        path, body, headers = request
        if path.startswith("/v1/"):
            headers["HTTP_AUTHORIZATION"] = callers["segment_headers"]["Authorization"]
        response = client.generic(
            "POST",
            path,
            body,
            content_type="application/json",
            HTTP_X_API_KEY=callers["headers"]["X-Api-Key"],
            **headers,
        )
        assert response.status_code < 500, response.content[:300]
        if response.status_code >= 400:
            assert response["Content-Type"].startswith("application/json"), response.content[:300]
            assert response.json()["error"], response.content[:300]

    send()
