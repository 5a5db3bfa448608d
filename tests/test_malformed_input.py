"""Malformed input is refused with a clear 4xx, never a 500, and nothing accepted is lost because of
it: the holes a black-box probe found (issue 15), one test each."""

import datetime as dt
import uuid
from urllib.parse import quote

import orjson
import pytest
from django.contrib.admin.sites import site as admin_site
from django.core.management import CommandError, call_command
from django.test import Client, RequestFactory
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from apps_registry import links
from apps_registry.models import AdSpend, TrackingLink
from core import clickhouse
from tests.factories import AppFactory, UserFactory, bearer
from tests.ingestion import IOS_UA, app_with_key, count

pytestmark = pytest.mark.django_db

LINK = {"name": "Spring", "media_source": "meta", "web_url": "https://shop.example.com/"}


@pytest.fixture
def admin():
    return UserFactory(role="admin")


def post_link(admin, app, body: dict):
    return APIClient().post(f"/api/apps/{app.id}/links", {**LINK, **body}, format="json", **bearer(admin))


def patch_link(admin, link, body: dict):
    return APIClient().patch(f"/api/apps/{link.app_id}/links/{link.id}", body, format="json", **bearer(admin))


def field_errors(response) -> dict:
    """The field reasons of a 400, whether the serializer or the model's validation refused."""
    extra = response.json()["extra"]
    return extra.get("fields", extra)


# --- A: a link's sub_params ---------------------------------------------------------------------------

MALFORMED_SUB_PARAMS = [
    "notadict",
    ["sub1", "x"],
    5,
    None,
    {"bad key": "x"},
    {"k" * 65: "x"},
    {"sub1": 1},
    {"sub1": {"nested": "x"}},
    {"sub1": "x" * 257},
    {f"sub{i}": "x" for i in range(21)},
]


@pytest.mark.parametrize("sub_params", MALFORMED_SUB_PARAMS)
def test_link_sub_params_must_be_an_object_of_short_text_on_create_and_update(admin, sub_params):
    app = AppFactory(owner=admin)
    created = post_link(admin, app, {"sub_params": sub_params})
    assert created.status_code == 400, created.json()
    assert "sub_params" in field_errors(created)

    link = links.link_create(app=app, created_by=admin, **LINK)
    updated = patch_link(admin, link, {"sub_params": sub_params})
    assert updated.status_code == 400, updated.json()
    assert "sub_params" in field_errors(updated)
    link.refresh_from_db()
    assert link.sub_params == {}


def test_link_sub_params_within_the_limits_are_kept(admin):
    app = AppFactory(owner=admin)
    sub_params = {f"sub_{i}": "v" * 256 for i in range(20)}
    response = post_link(admin, app, {"sub_params": sub_params})
    assert response.status_code == 201, response.json()
    assert response.json()["sub_params"] == sub_params


@pytest.mark.filterwarnings("ignore::django.utils.deprecation.RemovedInDjango60Warning")  # the admin's URL fields
def test_the_admin_refuses_malformed_sub_params_and_destinations(admin):
    app = AppFactory(owner=admin)
    link = links.link_create(app=app, created_by=admin, **LINK)
    request = RequestFactory().get("/admin/")
    request.user = admin
    model_admin = admin_site._registry[TrackingLink]
    form_class = model_admin.get_form(request, link)
    data = {
        **{name: getattr(link, name) for name in form_class.base_fields},
        "app": app.pk,
        "sub_params": '"notadict"',
        "web_url": "https://shop.example.com@evil.example/",
    }
    form = form_class(data=data, instance=link)
    assert not form.is_valid()
    assert {"sub_params", "web_url"} <= set(form.errors)


@pytest.mark.parametrize("stored", ["notadict", ["sub1"], 5, {"sub1": {"nested": 1}}])
def test_a_link_stored_with_malformed_sub_params_still_counts_every_touch(admin, store_all, stored):
    app, raw_key = app_with_key(owner=admin)
    link = links.link_create(app=app, created_by=admin, **LINK)
    TrackingLink.objects.filter(pk=link.pk).update(sub_params=stored)  # around every validation
    left_out = REGISTRY.get_sample_value("unmogrowp_link_sub_params_left_out_total") or 0

    click = Client().get(f"/c/{link.code}?click_id=n-1", HTTP_USER_AGENT=IOS_UA)
    assert click.status_code == 302 and click["Location"].startswith("https://shop.example.com/")
    pixel = Client().get(f"/i/{link.code}")
    assert pixel.status_code == 200 and pixel["Content-Type"] == "image/gif"
    body = {"touchpoints": [{"type": "click", "link_code": link.code}, {"type": "impression", "link_code": link.code}]}
    s2s = APIClient().generic(
        "POST", "/api/touchpoints", orjson.dumps(body), content_type="application/json", HTTP_X_API_KEY=raw_key
    )
    assert s2s.status_code == 202 and s2s.json()["accepted"] == 2, s2s.json()

    assert REGISTRY.get_sample_value("unmogrowp_link_sub_params_left_out_total") == left_out + 4
    store_all(until=lambda: count("touchpoints", app.id) >= 4)
    stored_sub_params = clickhouse.execute(
        "SELECT sub_params FROM touchpoints WHERE app_id = {a:UUID}", {"a": app.id}, tag="test.sub_params"
    ).rows
    assert stored_sub_params == [({},)] * 4


# --- D: where a link may send a click -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://files.example.com/app.apk",
        "https://shop.example.com@evil.example/",
        "https://user:password@shop.example.com/",
        "javascript:alert(1)",
    ],
)
@pytest.mark.parametrize("field", ["ios_url", "android_url", "web_url"])
def test_link_destinations_are_http_or_https_without_user_info(admin, field, url):
    app = AppFactory(owner=admin)
    created = post_link(admin, app, {field: url})
    assert created.status_code == 400 and field in field_errors(created), created.json()

    link = links.link_create(app=app, created_by=admin, **LINK)
    updated = patch_link(admin, link, {field: url})
    assert updated.status_code == 400 and field in field_errors(updated), updated.json()
    link.refresh_from_db()
    assert getattr(link, field) == LINK.get(field, "")


# --- B: bodies no parser should fail on -------------------------------------------------------------------


def post(path: str, body: bytes, raw_key: str | None = None, **extra):
    if raw_key:
        extra["HTTP_X_API_KEY"] = raw_key
    return Client(raise_request_exception=False).generic(
        "POST", path, body, content_type="application/json", REMOTE_ADDR="203.0.113.77", **extra
    )


def assert_json_error(response, status: int) -> str:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    message = response.json()["error"]
    assert message
    return message


DEEP = b"[" * 20_000 + b"]" * 20_000


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/events", b'{"events": [' + DEEP + b"]}"),
        ("/api/events", b'{"events": [{"event_name": "open", "properties": {"a": ' + DEEP + b"}}]}"),
        ("/api/touchpoints", b'{"touchpoints": [' + DEEP + b"]}"),
        ("/api/auth/login", b'{"email": ' + DEEP + b"}"),
        ("/api/auth/login", DEEP),
    ],
)
def test_json_nested_deeper_than_the_recursion_limit_is_a_400(path, body):
    _, raw_key = app_with_key()
    message = assert_json_error(post(path, body, raw_key), 400)
    assert "nested too deeply" in message


NOT_UTF8 = b"\xff"


def test_invalid_utf8_in_a_string_is_a_400_naming_the_byte():
    _, raw_key = app_with_key()
    body = b'{"events": [{"event_name": "open", "user_id": "u-\xff1"}]}'
    assert body.index(b"\xff") == 49
    assert "not UTF-8 at byte 49" in assert_json_error(post("/api/events", body, raw_key), 400)
    # After an invalid event the batch is read event by event: the same answer.
    body = b'{"events": [{"event_name": "bad name!"}, {"event_name": "open", "user_id": "u-\xff1"}]}'
    assert f"not UTF-8 at byte {body.index(NOT_UTF8)}" in assert_json_error(post("/api/events", body, raw_key), 400)
    body = b'{"touchpoints": [{"type": "click", "link_code": "\xff"}]}'
    message = assert_json_error(post("/api/touchpoints", body, raw_key), 400)
    assert f"not UTF-8 at byte {body.index(NOT_UTF8)}" in message
    assert_json_error(post("/api/auth/login", b'{"email": "\xff@example.com", "password": "x"}'), 400)


@pytest.mark.parametrize("timestamp", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_timestamp_beyond_the_calendar_in_utc_rejects_that_item_only(admin, timestamp):
    app, raw_key = app_with_key(owner=admin)
    link = links.link_create(app=app, created_by=admin, **LINK)
    events = {"events": [{"event_name": "open", "timestamp": timestamp}, {"event_name": "open"}]}
    answer = post("/api/events", orjson.dumps(events), raw_key)
    assert answer.status_code == 202, answer.content
    assert answer.json()["accepted"] == 1 and [r["index"] for r in answer.json()["rejected"]] == [0]
    touches = {"touchpoints": [{"type": "click", "link_code": link.code, "timestamp": timestamp}]}
    touches["touchpoints"].append({"type": "click", "link_code": link.code})
    answer = post("/api/touchpoints", orjson.dumps(touches), raw_key)
    assert answer.status_code == 202, answer.content
    assert answer.json()["accepted"] == 1 and [r["index"] for r in answer.json()["rejected"]] == [0]


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", " 12", "\xb2"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/events"),
        ("POST", "/api/touchpoints"),
        ("GET", "/c/NoSuchCode"),
        ("POST", "/api/auth/login"),
        ("GET", "/api/apps/"),
        ("GET", "/health/live"),
        ("POST", "/admin/login/"),
        ("GET", "/metrics"),
        ("GET", "/no/such/page"),
    ],
)
def test_a_content_length_that_is_not_a_number_is_a_400_on_any_url(method, path, length):
    response = Client(raise_request_exception=False).generic(
        method, path, b'{"events": []}', content_type="application/json", CONTENT_LENGTH=length
    )
    assert_json_error(response, 400)


def test_ingestion_endpoints_answer_json_whatever_debug_says(admin, settings, monkeypatch, caplog):
    from events.ingestion import services as ingest
    from events.ingestion import views

    settings.DEBUG = True
    app, raw_key = app_with_key(owner=admin)
    link = links.link_create(app=app, created_by=admin, **LINK)

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views, "touch_row", broken)
    monkeypatch.setattr(ingest, "ingest_events", broken)
    for response in (
        Client(raise_request_exception=False).get(f"/c/{link.code}"),
        Client(raise_request_exception=False).get(f"/i/{link.code}"),
        post("/api/events", orjson.dumps({"events": [{"event_name": "open"}]}), raw_key),
        post("/api/touchpoints", orjson.dumps({"touchpoints": [{"type": "click", "link_code": link.code}]}), raw_key),
    ):
        assert assert_json_error(response, 500) == "Internal server error."
    logged = [record for record in caplog.records if record.levelname == "ERROR" and record.exc_info]
    assert len(logged) == 4 and all("a bug" in str(record.exc_info[1]) for record in logged)

    wrong_method = Client().put("/api/events", HTTP_X_API_KEY=raw_key)
    assert assert_json_error(wrong_method, 405) and wrong_method["Allow"] == "POST"
    assert assert_json_error(Client().post(f"/c/{link.code}"), 405)


@pytest.mark.parametrize("code", ["\x0bAbCdEfGhI", "Ab CdEfGhI", "AbCdéfGhIj", "AbCd%fGhIj"])
def test_a_tracking_code_outside_the_code_alphabet_is_a_plain_404(code):
    for kind in ("c", "i"):
        response = Client(raise_request_exception=False).get(f"/{kind}/{quote(code, safe='')}")
        assert response.status_code == 404 and response["Content-Type"].startswith("text/plain")


def test_an_api_url_that_no_route_takes_answers_json():
    response = Client().get(f"/api/admin/users/not-a-uuid/apps/{uuid.uuid4()}")
    assert assert_json_error(response, 404) == "Not found."


# --- B and D: cost files ---------------------------------------------------------------------------------

COSTS_HEADER = b"date,source,campaign,adset,ad,currency,cost"


def post_costs(admin, app, body: bytes):
    return APIClient().generic("POST", f"/api/apps/{app.id}/costs", body, content_type="text/csv", **bearer(admin))


@pytest.mark.parametrize(
    ("lines", "line", "field"),
    [
        ([b"2026-11-01,meta,spring,,,EUR,1", b"2026-11-02,m\xe9ta,spring,,,EUR,1"], 3, "line"),
        ([b"2026-11-01,meta,spring,,,EUR,1", b"2026-11-02," + b"m" * 101 + b",spring,,,EUR,1"], 3, "source"),
        ([b"2026-11-02,meta," + b"c" * 201 + b",,,EUR,1"], 2, "campaign"),
        ([b"2026-11-02,meta,spring," + b"a" * 201 + b",,EUR,1"], 2, "adset"),
        ([b"2026-11-02,meta,spring,,video\x00,EUR,1"], 2, "ad"),
        ([b'2026-11-02,meta,spring,,"' + b"x" * 200_000 + b'",EUR,1'], 2, "line"),
    ],
)
def test_a_bad_cost_file_is_a_400_naming_the_line_and_imports_nothing(admin, tmp_path, lines, line, field):
    app = AppFactory(owner=admin)
    response = post_costs(admin, app, b"\n".join([COSTS_HEADER, *lines]))
    assert response.status_code == 400, response.content[:300]
    (bad,) = [entry for entry in response.json()["extra"]["lines"] if entry["line"] == line]
    assert field in bad["errors"]
    assert not AdSpend.objects.filter(app=app).exists()

    path = tmp_path / "costs.csv"
    path.write_bytes(b"\n".join([b"app_id," + COSTS_HEADER, *(f"{app.id},".encode() + row for row in lines)]))
    with pytest.raises(CommandError, match=f"line {line}"):
        call_command("import_costs", str(path))
    assert not AdSpend.objects.filter(app=app).exists()


# --- D: touchpoint times ----------------------------------------------------------------------------------


def test_touchpoint_timestamps_are_range_checked_like_events(admin, store_all):
    app, raw_key = app_with_key(owner=admin)
    link = links.link_create(app=app, created_by=admin, **LINK)
    now = dt.datetime.now(dt.UTC)
    body = {
        "touchpoints": [
            {"type": "click", "link_code": link.code, "timestamp": "1970-01-01T00:00:00Z"},
            {"type": "click", "link_code": link.code, "timestamp": "2999-01-01T00:00:00Z"},
            {"type": "click", "link_code": link.code, "timestamp": (now - dt.timedelta(days=2)).isoformat()},
        ]
    }
    answer = post("/api/touchpoints", orjson.dumps(body), raw_key)
    assert answer.status_code == 202
    assert answer.json()["accepted"] == 2
    assert [(r["index"], "days in the past" in r["reason"]) for r in answer.json()["rejected"]] == [(0, True)]
    store_all(until=lambda: count("touchpoints", app.id) >= 2)
    stored = clickhouse.execute(
        "SELECT timestamp, received_at FROM touchpoints WHERE app_id = {a:UUID} ORDER BY timestamp",
        {"a": app.id},
        tag="test.touch_times",
    ).rows
    assert stored[0][0] < now - dt.timedelta(days=1)
    assert stored[1][0] == stored[1][1], "a clock far in the future is replaced by the time received"


@pytest.mark.parametrize("host", ["host;", "", "evil.example"])
@pytest.mark.parametrize("method, path", [("POST", "/api/apps/create"), ("POST", "/v1/batch"), ("GET", "/api/nope")])
def test_a_host_header_the_server_does_not_answer_to_is_a_json_400_under_the_api(settings, method, path, host):
    """Django refuses such a request before any view (DisallowedHost); the API still says why in JSON.
    Without DEBUG, as in production: with it, Django shows its technical page."""
    settings.DEBUG = False
    response = Client(raise_request_exception=False).generic(method, path, b"name=x", HTTP_HOST=host)
    assert assert_json_error(response, 400) == "The Host header names no host this server answers to."
    page = Client(raise_request_exception=False).get("/apps/", HTTP_HOST=host)
    assert page.status_code == 400 and page["Content-Type"].startswith("text/html"), "pages keep Django's"
