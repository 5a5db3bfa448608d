"""Apps, API keys, signing secrets, attribution settings, tracking links and ad spend."""

import datetime as dt
import io
import logging
import time

import pytest
from django.core.cache import caches
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from accounts.models import User
from apps_registry import keys, links
from apps_registry.models import AdSpend, ApiKey, App, AttributionSettings, TrackingLink
from tests.factories import PASSWORD, AppFactory, UserFactory, bearer, grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return UserFactory(role="admin")


@pytest.fixture
def app(admin, api):
    body = {
        "name": "Puzzle Quest",
        "timezone": "Europe/Berlin",
        "currency": "EUR",
        "platforms": [
            {"platform": "ios", "bundle_id": "com.example.puzzle", "store_id": "id123456789"},
            {"platform": "web", "web_domains": ["puzzle.example.com"]},
        ],
    }
    response = api.post("/api/apps/create", body, format="json", **bearer(admin))
    assert response.status_code == 201, response.json()
    return App.objects.get(id=response.json()["id"])


def test_an_app_has_platforms_timezone_currency_and_default_settings(app, api, admin):
    body = api.get(f"/api/apps/{app.id}", **bearer(admin)).json()
    assert body["timezone"] == "Europe/Berlin" and body["currency"] == "EUR"
    assert {p["platform"]: p["bundleId"] for p in body["platforms"]} == {"ios": "com.example.puzzle", "web": ""}
    assert AttributionSettings.objects.get(app=app).version == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "timezone": "Mars/Olympus"}, "timezone"),
        ({"name": "x", "currency": "euro"}, "currency"),
        ({"name": "x", "platforms": [{"platform": "ios"}, {"platform": "ios"}]}, "platforms"),
        ({"name": "x", "platforms": [{"platform": "symbian"}]}, "platforms"),
    ],
)
def test_bad_app_fields_get_field_level_messages(api, admin, body, field):
    response = api.post("/api/apps/create", body, format="json", **bearer(admin))
    assert response.status_code == 400
    assert field in (response.json()["extra"].get("fields") or response.json()["extra"])


def test_apps_are_archived_not_deleted(app, api, admin):
    response = api.patch(f"/api/apps/{app.id}", {"status": "archived"}, format="json", **bearer(admin))
    assert response.json()["status"] == "archived"
    assert api.delete(f"/api/apps/{app.id}", **bearer(admin)).status_code == 405
    assert App.objects.filter(id=app.id).exists()


# --- API keys -------------------------------------------------------------------------------------


def test_a_key_is_shown_once_and_is_never_retrievable_again(app, api, admin, caplog):
    caplog.set_level(logging.DEBUG)
    created = api.post(f"/api/apps/{app.id}/keys", {"name": "ios sdk"}, format="json", **bearer(admin)).json()
    raw_key = created["key"]
    assert raw_key.startswith(created["prefix"]) and len(raw_key) > 40
    assert keys.authenticate_api_key(raw_key).app_id == app.id

    listed = api.get(f"/api/apps/{app.id}/keys", **bearer(admin))
    assert raw_key not in listed.content.decode() and created["prefix"] in listed.content.decode()
    secret_part = raw_key.split("_", 2)[2]
    assert secret_part not in str(list(ApiKey.objects.values()))
    assert secret_part not in caplog.text
    browser = Client()
    browser.force_login(User.objects.create_superuser(email="root@example.com", password=PASSWORD))
    pages = [
        browser.get("/admin/apps_registry/apikey/"),
        browser.get(f"/admin/apps_registry/apikey/{created['id']}/change/"),
    ]
    assert all(page.status_code == 200 for page in pages)
    assert not any(secret_part in page.content.decode() for page in pages)


def test_a_revoked_key_is_refused_at_once_even_when_cached(app, api, admin):
    created = api.post(f"/api/apps/{app.id}/keys", {}, format="json", **bearer(admin)).json()
    assert keys.authenticate_api_key(created["key"]) is not None  # now cached
    revoked = api.post(f"/api/apps/{app.id}/keys/{created['id']}/revoke", **bearer(admin))
    assert revoked.json()["active"] is False
    assert keys.authenticate_api_key(created["key"]) is None


@pytest.mark.parametrize("bad", ["", "ump_", "ump_x_y", "nope", "ump_AAAAAAAA_wrongsecret"])
def test_malformed_or_unknown_keys_are_refused(bad):
    assert keys.authenticate_api_key(bad) is None


def test_a_wrong_secret_with_a_real_prefix_is_refused(app):
    _, raw_key = keys.api_key_create(app=app, created_by=None)
    prefix = "_".join(raw_key.split("_", 2)[:2])
    assert keys.authenticate_api_key(f"{prefix}_{'x' * 43}") is None


def test_rotation_keeps_the_old_key_for_the_overlap_only(app, api, admin):
    old = api.post(f"/api/apps/{app.id}/keys", {}, format="json", **bearer(admin)).json()
    rotated = api.post(
        f"/api/apps/{app.id}/keys/{old['id']}/rotate", {"overlap_hours": 1}, format="json", **bearer(admin)
    ).json()
    assert keys.authenticate_api_key(old["key"]) is not None
    assert keys.authenticate_api_key(rotated["key"]) is not None
    ApiKey.objects.filter(id=old["id"]).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    from django.core.cache import cache

    cache.clear()  # as after API_KEY_CACHE_SECONDS, the documented bound for an expiring key
    keys.remembered.clear()
    assert keys.authenticate_api_key(old["key"]) is None
    assert keys.authenticate_api_key(rotated["key"]) is not None


def test_rotation_without_overlap_revokes_the_old_key_at_once_even_when_cached(app, api, admin):
    old = api.post(f"/api/apps/{app.id}/keys", {}, format="json", **bearer(admin)).json()
    assert keys.authenticate_api_key(old["key"]) is not None  # now cached, in the process and the shared cache
    rotated = api.post(
        f"/api/apps/{app.id}/keys/{old['id']}/rotate", {"overlap_hours": 0}, format="json", **bearer(admin)
    ).json()
    assert rotated["previous"]["active"] is False and rotated["previous"]["revokedAt"] is not None
    assert keys.authenticate_api_key(old["key"]) is None
    assert keys.authenticate_api_key(rotated["key"]) is not None


def test_keys_of_an_archived_app_are_refused(app):
    _, raw_key = keys.api_key_create(app=app, created_by=None)
    App.objects.filter(id=app.id).update(status=App.Status.ARCHIVED)
    assert keys.authenticate_api_key(raw_key) is None


def test_last_used_time_is_recorded(app):
    key, raw_key = keys.api_key_create(app=app, created_by=None)
    keys.authenticate_api_key(raw_key)
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_signing_secret_is_derived_shown_once_and_rotates(app, api, admin):
    first = api.post(f"/api/apps/{app.id}/signing-secret/rotate", **bearer(admin)).json()
    second = api.post(f"/api/apps/{app.id}/signing-secret/rotate", **bearer(admin)).json()
    assert (first["version"], second["version"]) == (2, 3)
    assert first["secret"] != second["secret"]
    assert keys.signing_secret(app_id=app.id, version=3) == second["secret"]
    assert second["secret"] not in str(list(App.objects.filter(id=app.id).values()))


def test_management_commands_create_an_app_and_rotate_its_key(admin):
    out = io.StringIO()
    call_command("create_app", "CLI App", owner=admin.email, platform=["android:com.example.cli"], stdout=out)
    raw_key = out.getvalue().split("API key: ")[1].split()[0]
    assert keys.authenticate_api_key(raw_key) is not None
    out = io.StringIO()
    call_command("rotate_api_key", "_".join(raw_key.split("_", 2)[:2]) + "_", overlap_hours=0, stdout=out)
    new_key = out.getvalue().split("new API key: ")[1].split()[0]
    assert keys.authenticate_api_key(new_key) is not None
    assert keys.authenticate_api_key(raw_key) is None
    assert "is revoked" in out.getvalue()
    with pytest.raises(CommandError, match="No user"):
        call_command("create_app", "x", owner="nobody@example.com")


# --- attribution settings ---------------------------------------------------------------------------


def test_settings_have_documented_defaults(app, api, admin):
    body = api.get(f"/api/apps/{app.id}/settings", **bearer(admin)).json()
    assert body["version"] == 1
    assert body["settings"] == {
        "click_lookback_hours": 168,
        "view_through_hours": 24,
        "probabilistic_enabled": False,
        "probabilistic_window_hours": 24,
        "user_id_fallback": False,
        "reattribution_window_days": 90,
        "reengagement_inactivity_days": 7,
        "reengagement_window_days": 30,
        "default_model": "last_touch",
        "time_decay_half_life_days": 7,
        "fraud_min_ctit_seconds": 10,
        "fraud_policy": "flag",
    }


def test_out_of_range_settings_are_refused_field_by_field(app, api, admin):
    bad = {
        "click_lookback_hours": 0,
        "view_through_hours": 24 * 8,
        "default_model": "magic",
        "reattribution_window_days": 400,
    }
    response = api.patch(f"/api/apps/{app.id}/settings", bad, format="json", **bearer(admin))
    assert response.status_code == 400
    fields = response.json()["extra"]["fields"]
    assert set(fields) == set(bad)
    assert "greater than or equal to 1" in fields["click_lookback_hours"][0]
    assert AttributionSettings.objects.filter(app=app).count() == 1


def test_every_settings_change_is_a_new_version_with_its_history(app, api, admin):
    marketer = UserFactory(role="user")
    grant(marketer, app, "view_app", "change_app")
    api.patch(f"/api/apps/{app.id}/settings", {"click_lookback_hours": 72}, format="json", **bearer(admin))
    api.patch(
        f"/api/apps/{app.id}/settings",
        {"default_model": "linear", "click_lookback_hours": 72},
        format="json",
        **bearer(marketer),
    )
    api.patch(f"/api/apps/{app.id}/settings", {"default_model": "linear"}, format="json", **bearer(marketer))  # no-op
    history = api.get(f"/api/apps/{app.id}/settings/history", **bearer(admin)).json()
    assert [v["version"] for v in history] == [3, 2, 1]
    assert history[0]["changes"] == {"default_model": {"old": "last_touch", "new": "linear"}}
    assert history[0]["changedBy"] == marketer.email
    assert history[1]["changes"] == {"click_lookback_hours": {"old": 168, "new": 72}}
    assert history[1]["changedBy"] == admin.email


def test_the_user_id_as_a_device_is_a_setting_of_its_own(app, api, admin):
    url = f"/api/apps/{app.id}/settings"
    refused = api.patch(url, {"user_id_fallback": "sometimes"}, format="json", **bearer(admin))
    assert refused.status_code == 400
    assert set(refused.json()["extra"]["fields"]) == {"user_id_fallback"}
    body = api.patch(url, {"user_id_fallback": True}, format="json", **bearer(admin)).json()
    assert (body["version"], body["settings"]["user_id_fallback"]) == (2, True)
    history = api.get(f"{url}/history", **bearer(admin)).json()
    assert history[0]["changes"] == {"user_id_fallback": {"old": False, "new": True}}


# --- tracking links ----------------------------------------------------------------------------------

LINK = {
    "name": "Spring video",
    "media_source": "meta",
    "campaign": "spring_sale",
    "adset": "lookalike_de",
    "ad": "video_15s",
    "site_id": "fb_feed",
    "sub_params": {"sub1": "creator_42"},
    "ios_url": "https://apps.apple.com/app/id123456789",
    "android_url": "https://play.google.com/store/apps/details?id=com.example.puzzle",
    "web_url": "https://puzzle.example.com/",
    "deep_link": "puzzle://offer/spring",
}


def test_links_get_an_unguessable_code_and_copyable_urls(app, api, admin, settings):
    settings.PUBLIC_BASE_URL = "https://track.example.com"
    body = api.post(f"/api/apps/{app.id}/links", LINK, format="json", **bearer(admin)).json()
    assert len(body["code"]) == links.CODE_LENGTH and body["code"].isalnum()
    assert body["clickUrl"] == f"https://track.example.com/c/{body['code']}"
    assert body["impressionUrl"] == f"https://track.example.com/i/{body['code']}"
    assert "click_id={click_id}" in body["clickUrlWithMacros"] and "idfa={idfa}" in body["clickUrlWithMacros"]
    assert links.link_by_code(body["code"]).campaign == "spring_sale"
    other = api.post(f"/api/apps/{app.id}/links", LINK, format="json", **bearer(admin)).json()
    assert other["code"] != body["code"]


def test_a_link_needs_a_destination(app, api, admin):
    response = api.post(
        f"/api/apps/{app.id}/links", {"name": "x", "media_source": "meta"}, format="json", **bearer(admin)
    )
    assert response.status_code == 400 and "web_url" in response.json()["extra"]


def test_an_archived_link_stops_resolving_at_once(app, api, admin):
    body = api.post(f"/api/apps/{app.id}/links", LINK, format="json", **bearer(admin)).json()
    assert links.link_by_code(body["code"]) is not None  # cached now
    api.patch(f"/api/apps/{app.id}/links/{body['id']}", {"status": "archived"}, format="json", **bearer(admin))
    assert links.link_by_code(body["code"]) is None


def test_a_link_changed_by_another_process_reaches_clicks_within_the_local_cache_time(app, api, admin, settings):
    settings.LINK_CACHE_SECONDS = 0.3
    body = api.post(f"/api/apps/{app.id}/links", LINK, format="json", **bearer(admin)).json()
    assert links.link_by_code(body["code"]) is not None  # remembered in this process now
    # Another process archives it: the database and the shared cache change, this process's memory not.
    TrackingLink.objects.filter(code=body["code"]).update(status=TrackingLink.Status.ARCHIVED)
    caches["default"].clear()
    assert links.link_by_code(body["code"]) is not None
    time.sleep(0.3)
    assert links.link_by_code(body["code"]) is None


# --- ad spend ---------------------------------------------------------------------------------------

GOOD_CSV = """date,source,campaign,adset,ad,currency,cost,impressions,clicks
2026-11-01,meta,spring_sale,lookalike_de,video_15s,EUR,120.50,10000,300
2026-11-01,google_ads,search_brand,,,EUR,80.00,,
2026-11-02,meta,spring_sale,lookalike_de,video_15s,EUR,99.5,9000,280
"""


def totals(app) -> tuple:
    rows = AdSpend.objects.filter(app=app)
    return rows.count(), sum(r.cost for r in rows)


def test_a_good_file_imports_and_importing_it_again_changes_nothing(app, api, admin):
    first = api.post(f"/api/apps/{app.id}/costs", GOOD_CSV, content_type="text/csv", **bearer(admin))
    assert first.status_code == 200, first.json()
    assert first.json() == {"rows": 3, "totalCost": {"EUR": "300.00"}}
    assert totals(app) == (3, 300)
    api.post(f"/api/apps/{app.id}/costs", {"csv": GOOD_CSV}, format="json", **bearer(admin))
    assert totals(app) == (3, 300)


def test_reimporting_a_day_replaces_its_cost(app, api, admin):
    api.post(f"/api/apps/{app.id}/costs", GOOD_CSV, content_type="text/csv", **bearer(admin))
    corrected = "date,source,campaign,adset,ad,currency,cost\n2026-11-01,google_ads,search_brand,,,EUR,90\n"
    api.post(f"/api/apps/{app.id}/costs", corrected, content_type="text/csv", **bearer(admin))
    assert totals(app) == (3, 310)


def test_a_bad_file_reports_every_bad_line_and_imports_nothing(app, api, admin):
    bad = (
        "date,source,campaign,currency,cost\n"
        "2026-11-01,meta,spring,EUR,10\n"
        "2026-13-01,meta,spring,EUR,10\n"
        "2026-11-02,,spring,EUR,10\n"
        "2026-11-03,meta,spring,euro,-5\n"
        "2026-11-01,meta,spring,EUR,11\n"
    )
    response = api.post(f"/api/apps/{app.id}/costs", bad, content_type="text/csv", **bearer(admin))
    assert response.status_code == 400
    lines = {entry["line"]: entry["errors"] for entry in response.json()["extra"]["lines"]}
    assert set(lines) == {3, 4, 5, 6}
    assert set(lines[5]) == {"currency", "cost"}
    assert "line 2" in lines[6]["line"]
    assert totals(app) == (0, 0)


def test_a_wrong_header_is_refused(app, api, admin):
    response = api.post(f"/api/apps/{app.id}/costs", "day,money\n1,2\n", content_type="text/csv", **bearer(admin))
    assert response.status_code == 400 and "header" in response.json()["extra"]


def test_import_costs_command_takes_app_ids_per_line(app, tmp_path):
    path = tmp_path / "costs.csv"
    path.write_text(f"app_id,date,source,campaign,currency,cost\n{app.id},2026-11-01,meta,spring,EUR,12.5\n")
    out = io.StringIO()
    call_command("import_costs", str(path), stdout=out)
    call_command("import_costs", str(path), stdout=out)
    assert "Imported 1 row(s): 12.5 EUR" in out.getvalue()
    assert totals(app) == (1, 12.5)
    path.write_text("app_id,date,source,campaign,currency,cost\nnot-an-app,2026-11-01,meta,spring,EUR,1\n")
    with pytest.raises(CommandError, match="line 2"):
        call_command("import_costs", str(path))


def test_reading_settings_links_and_costs_needs_access_to_the_app(app, api):
    stranger = UserFactory(role="user")
    other = AppFactory()
    grant(stranger, other, "view_app", "change_app", "manage_keys")
    for suffix in ("settings", "settings/history", "links", "costs", "keys"):
        assert api.get(f"/api/apps/{app.id}/{suffix}", **bearer(stranger)).status_code == 404
