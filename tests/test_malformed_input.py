"""Malformed input is refused with a clear 4xx, never a 500, and nothing accepted is lost because of
it: the holes a black-box probe found (issue 15), one test each."""

import orjson
import pytest
from django.contrib.admin.sites import site as admin_site
from django.test import Client, RequestFactory
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from apps_registry import links
from apps_registry.models import TrackingLink
from attribution import clickhouse
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
