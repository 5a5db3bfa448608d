"""The web app's pages through Django's test client: sign-in under the one sign-in policy, `/` and
the app picker, the change_app pages writing through the services, the report pages, the CSP. Who
may open which page: tests/test_authorization_matrix.py. In a real browser: tests/test_pages_browser.py."""

import datetime as dt
import json
import re
import zoneinfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from accounts.models import SecurityEvent
from apps_registry import services
from apps_registry.models import AdSpend, TrackingLink
from dashboard import charts
from tests.factories import PASSWORD, AppFactory, UserFactory, grant

pytestmark = pytest.mark.django_db
A = SecurityEvent.Action
IP = "198.51.100.41"


def sign_in(browser: Client, email: str, password: str = PASSWORD, next_url: str = ""):
    return browser.post("/sign-in", {"email": email, "password": password, "next": next_url}, REMOTE_ADDR=IP)


def signed_in(browser: Client) -> bool:
    return "_auth_user_id" in browser.session


@pytest.fixture
def marketer():
    user = UserFactory(role="user", password=PASSWORD)
    app = AppFactory(timezone="Europe/Berlin", currency="EUR")
    grant(user, app, "view_app", "change_app", "view_analytics")
    return user, app


@pytest.fixture
def browser(marketer):
    client = Client()
    client.force_login(marketer[0])
    return client


def test_a_visitor_is_sent_to_the_sign_in_page_and_back_to_where_they_were_going(marketer):
    user, app = marketer
    browser = Client()
    assert browser.get("/").url == "/sign-in"
    to_sign_in = browser.get(f"/apps/{app.id}/links")
    assert to_sign_in.status_code == 302 and to_sign_in.url == f"/sign-in?next=/apps/{app.id}/links"
    page = browser.get(to_sign_in.url)
    assert page.status_code == 200 and b'name="password"' in page.content
    signed = sign_in(browser, user.email, next_url=f"/apps/{app.id}/links")
    assert signed.status_code == 302 and signed.url == f"/apps/{app.id}/links"
    assert signed_in(browser)
    ok = SecurityEvent.objects.get(action=A.LOGIN_OK)
    assert (ok.user_id, ok.metadata["door"], ok.ip) == (user.pk, "pages", IP)


def test_sign_in_does_not_follow_a_next_url_to_another_site(marketer):
    signed = sign_in(Client(), marketer[0].email, next_url="https://evil.example/")
    assert signed.status_code == 302 and signed.url == "/apps/"


def test_a_wrong_password_and_an_unknown_email_answer_alike_and_count(marketer):
    wrong = sign_in(Client(), marketer[0].email, "wrong password!")
    unknown = sign_in(Client(), "nobody@example.com", "wrong password!")
    assert wrong.status_code == unknown.status_code == 400
    assert b"Invalid email or password." in wrong.content and b"Invalid email or password." in unknown.content
    failed = SecurityEvent.objects.filter(action=A.LOGIN_FAILED).order_by("id")
    assert [(e.user_email, e.metadata["door"]) for e in failed] == [
        (marketer[0].email, "pages"),
        ("nobody@example.com", "pages"),
    ]


def test_a_locked_account_cannot_sign_in_at_the_pages_nor_at_the_api(settings, marketer):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    user = marketer[0]
    for _ in range(3):
        assert sign_in(Client(), user.email, "wrong password!").status_code == 400
    browser = Client()
    refused = sign_in(browser, user.email)
    assert refused.status_code == 429
    assert b"Too many failed sign-ins for this account or address. Try again in 15 minutes." in refused.content
    assert not signed_in(browser)
    lockout = SecurityEvent.objects.get(action=A.LOCKOUT)
    assert (lockout.user_email, lockout.metadata["door"]) == (user.email, "pages")
    api = Client().post("/api/auth/login", {"email": user.email, "password": PASSWORD}, content_type="application/json")
    assert api.status_code == 429


def test_sign_out_is_a_post_that_ends_the_session(browser, marketer):
    assert browser.get("/sign-out").status_code == 405
    assert browser.post("/sign-out").url == "/sign-in"
    assert not signed_in(browser)
    assert browser.get("/apps/").status_code == 302
    assert SecurityEvent.objects.filter(action=A.LOGOUT, user_id=marketer[0].pk, metadata__door="pages").exists()


def test_the_app_picker_lists_only_the_users_apps_and_one_app_goes_straight_to_it(browser, marketer):
    user, app = marketer
    AppFactory(name="Someone else's app")
    assert browser.get("/").url == "/apps/"
    assert browser.get("/apps/").url == f"/apps/{app.id}/"
    assert browser.get(f"/apps/{app.id}/").url == f"/apps/{app.id}/overview"
    second = AppFactory(name="Second app")
    grant(user, second, "view_app")
    picker = browser.get("/apps/")
    assert picker.status_code == 200
    assert app.name.encode() in picker.content and b"Second app" in picker.content
    assert b"Someone else" not in picker.content
    assert browser.get(f"/apps/{second.id}/").url == f"/apps/{second.id}/links", "no analytics: its links"


def test_every_page_shows_the_apps_time_zone_and_currency_and_the_csp(browser, marketer):
    app = marketer[1]
    for path in ("overview", "links", "costs", "settings", "live", "conversions", "campaigns", "models", "fraud"):
        response = browser.get(f"/apps/{app.id}/{path}")
        assert response.status_code == 200, path
        assert b"Times in Europe/Berlin \xc2\xb7 Money in EUR" in response.content, path
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "style-src 'self';" in csp and "unsafe" not in csp
        assert b"<script>" not in response.content, "no inline script: data travels in json_script"


def test_a_grant_without_the_pages_permission_is_a_403_page_naming_what_is_missing(marketer):
    user = UserFactory(role="user")
    grant(user, marketer[1], "view_app")
    browser = Client()
    browser.force_login(user)
    refused = browser.get(f"/apps/{marketer[1].id}/overview")
    assert refused.status_code == 403
    assert b"does not let you read this app&#x27;s analytics" in refused.content
    denied = SecurityEvent.objects.get(action=A.PERMISSION_DENIED)
    assert denied.resource == f"app:{marketer[1].id}"


def test_a_readonly_user_is_refused_the_analytics_pages_with_the_role_they_need(marketer):
    reader = UserFactory(role="readonly")
    grant(reader, marketer[1], "view_app", "view_analytics")
    browser = Client()
    browser.force_login(reader)
    refused = browser.get(f"/apps/{marketer[1].id}/overview")
    assert refused.status_code == 403
    assert b"This page needs the role admin or user with the permission dashboard:read" in refused.content
    assert browser.get(f"/apps/{marketer[1].id}/links").status_code == 200


def strip_csrf(content: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", content)


def test_a_foreign_app_looks_exactly_like_a_missing_one(browser):
    foreign = AppFactory()
    denied = browser.get(f"/apps/{foreign.id}/links")
    missing = browser.get("/apps/00000000-0000-4000-8000-000000000000/links")
    malformed = browser.get("/apps/not-an-id/links")
    assert denied.status_code == missing.status_code == malformed.status_code == 404
    assert strip_csrf(denied.content) == strip_csrf(missing.content) == strip_csrf(malformed.content)


def test_a_link_made_with_the_builder_lists_its_click_and_impression_urls(browser, marketer, settings):
    app = marketer[1]
    form = {
        "name": "Spring video",
        "media_source": "meta",
        "campaign": "spring_sale",
        "adset": "broad",
        "ad": "video_15s",
        "ios_url": "https://apps.apple.com/app/id123456789",
        "web_url": "https://example.com/",
        "sub_params_text": "sub1=creator_42\n\nsub2 = summer",
    }
    created = browser.post(f"/apps/{app.id}/links/new", form)
    link = TrackingLink.objects.get(app=app)
    assert created.status_code == 302 and created.url == f"/apps/{app.id}/links?created={link.id}#link-{link.id}"
    assert (link.media_source, link.campaign, link.created_by) == ("meta", "spring_sale", marketer[0])
    assert link.sub_params == {"sub1": "creator_42", "sub2": "summer"}
    listed = browser.get(created.url).content.decode()
    assert f'value="{settings.PUBLIC_BASE_URL}/c/{link.code}"' in listed
    assert f'value="{settings.PUBLIC_BASE_URL}/i/{link.code}"' in listed
    assert "Link “Spring video” created." in listed


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"web_url": "", "ios_url": ""}, "web_url", "Give at least one destination URL."),
        ({"web_url": "ftp://example.com/"}, "web_url", "Only http:// and https:// destinations are allowed."),
        ({"sub_params_text": "no separator"}, "sub_params_text", "Line 1: write key=value."),
        ({"sub_params_text": "bad key!=x"}, "sub_params_text", "Key &#x27;bad key!&#x27;: 1 to 64 letters"),
    ],
)
def test_the_link_builder_shows_what_is_wrong_beside_the_field(browser, marketer, change, field, message):
    form = {"name": "l", "media_source": "meta", "web_url": "https://example.com/", **change}
    refused = browser.post(f"/apps/{marketer[1].id}/links/new", form)
    assert refused.status_code == 400
    assert message in refused.content.decode()
    assert not TrackingLink.objects.exists()


def upload(browser: Client, app, text: str):
    csv = SimpleUploadedFile("costs.csv", text.encode(), content_type="text/csv")
    return browser.post(f"/apps/{app.id}/costs/upload", {"file": csv})


def test_a_cost_file_with_a_bad_line_imports_nothing_and_names_the_line(browser, marketer):
    app = marketer[1]
    text = "date,source,campaign,currency,cost\n2026-11-01,meta,spring,EUR,10\n2026-11-02,meta,spring,EUR,ten\n"
    refused = upload(browser, app, text)
    assert refused.status_code == 400
    page = refused.content.decode()
    assert '<tr data-line="3"><td class="num">3</td><td><strong>cost</strong>: expected a non-negative number' in page
    assert "1 bad line(s); nothing was imported." in page
    assert not AdSpend.objects.filter(app=app).exists()

    imported = upload(browser, app, text.replace("ten", "12.5"))
    assert imported.url == f"/apps/{app.id}/costs"
    assert "Imported 2 line(s): 22.5 EUR." in browser.get(imported.url).content.decode()
    assert AdSpend.objects.filter(app=app).count() == 2


def test_a_cost_file_that_is_not_utf8_names_its_line(browser, marketer):
    csv = SimpleUploadedFile("costs.csv", b"date,source,campaign,currency,cost\n2026-11-01,m\xe9ta,c,EUR,1\n")
    refused = browser.post(f"/apps/{marketer[1].id}/costs/upload", {"file": csv})
    assert refused.status_code == 400 and b'data-line="2"' in refused.content and b"not UTF-8" in refused.content


def test_editing_the_settings_makes_a_new_version_and_keeps_the_history(browser, marketer):
    user, app = marketer
    form = {**services.settings_current(app=app).rules(), "click_lookback_hours": 48, "default_model": "linear"}
    del form["probabilistic_enabled"]  # an unchecked box is not sent
    saved = browser.post(f"/apps/{app.id}/settings/edit", form)
    assert saved.url == f"/apps/{app.id}/settings"
    current = services.settings_current(app=app)
    assert (current.version, current.click_lookback_hours, current.changed_by) == (2, 48, user)
    page = browser.get(saved.url).content.decode()
    assert "Saved as version 2." in page
    assert "<code>click_lookback_hours</code> 168 → 48" in page and "the first version" in page

    same = browser.post(f"/apps/{app.id}/settings/edit", form)
    assert "Nothing changed: the settings stay at version 2." in browser.get(same.url).content.decode()
    out_of_range = browser.post(f"/apps/{app.id}/settings/edit", {**form, "click_lookback_hours": 0})
    assert out_of_range.status_code == 400 and services.settings_current(app=app).version == 2


def test_the_overview_reads_the_stats_and_bad_filters_are_a_400_page(browser, marketer):
    app = marketer[1]
    page = browser.get(f"/apps/{app.id}/overview?days=30&model=linear")
    assert page.status_code == 200
    assert b'data-metric="installs" data-value="0.0"' in page.content
    assert b"No installs in this period." in page.content, "an empty app shows the empty state, not a blank chart"
    assert b"No events in this period." in page.content and b"No attributed installs in this period." in page.content
    assert b'<option value="30" selected>' in page.content and b'<option value="linear" selected>' in page.content
    bad = browser.get(f"/apps/{app.id}/overview?days=3&model=best")
    assert bad.status_code == 400
    assert b"<strong>days</strong>" in bad.content and b"<strong>model</strong>" in bad.content


def test_the_overview_reads_the_campaign_report_once_for_both_periods(browser, marketer, monkeypatch):
    """The KPI tiles and the top sources of the period, and the previous period's tiles, come from one
    read of the campaign report: the 30 days up to today, and the 30 whole days before."""
    from dashboard import analytics

    reads, performances = [], analytics._performances

    def counted(app, periods, levels):
        reads.append(([(period.first_day, period.last_day) for period in periods], levels))
        return performances(app, periods, levels)

    monkeypatch.setattr(analytics, "_performances", counted)
    app = marketer[1]
    assert browser.get(f"/apps/{app.id}/overview?days=30").status_code == 200
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(app.timezone)).date()
    first = today - dt.timedelta(days=29)
    previous = (first - dt.timedelta(days=30), first - dt.timedelta(days=1))
    assert reads == [([previous, (first, today)], ("source", None))]


def test_the_cohorts_page_has_an_empty_state_and_bad_options_are_a_400_page(browser, marketer):
    app = marketer[1]
    page = browser.get(f"/apps/{app.id}/cohorts?days=30&granularity=week&split=source")
    assert page.status_code == 200
    assert b"No installs in this period." in page.content and b'id="chart-retention"' not in page.content
    assert b'<option value="week" selected>' in page.content and b'<option value="source" selected>' in page.content
    bad = browser.get(f"/apps/{app.id}/cohorts?granularity=month&split=os")
    assert bad.status_code == 400
    assert b"<strong>granularity</strong>" in bad.content and b"<strong>split</strong>" in bad.content


def test_the_conversion_story_says_when_there_is_no_attribution(browser, marketer):
    app = marketer[1]
    none = browser.get(f"/apps/{app.id}/conversions?event_id=00000000-0000-4000-8000-000000000001")
    assert none.status_code == 200 and b"No attribution for this event" in none.content
    bad = browser.get(f"/apps/{app.id}/conversions?event_id=nope")
    assert bad.status_code == 400 and b"Enter a valid UUID." in bad.content


def test_chart_options_are_built_per_kind():
    line = charts.line_chart(label="l", categories=["d1", "d2"], series={"install": [1, 2], "purchase": [0, 1]})
    assert [s["type"] for s in line.option["series"]] == ["line", "line"] and line.option["legend"]["show"]
    bar = charts.bar_chart(label="b", categories=["meta"], series={"Installs": [3]}, horizontal=True)
    assert bar.option["yAxis"]["data"] == ["meta"] and bar.option["xAxis"]["type"] == "value"
    heat = charts.heatmap_chart(label="h", rows=["c1"], columns=["D1", "D7"], values=[[0.4, None]], unit="%")
    assert heat.option["series"][0]["data"] == [[0, 0, 0.4]] and heat.option["visualMap"]["max"] == 0.4
    steps = charts.bar_chart(
        label="f", categories=["install", "purchase"], series={"Devices": [10, 2]}, horizontal=True, labels=["10", "2"]
    )
    assert [item["label"]["formatter"] for item in steps.option["series"][0]["data"]] == ["10", "2"]
    assert steps.option["grid"]["right"] == charts.LABEL_ROOM_PX and not steps.option["legend"]["show"]


def test_a_report_clickhouse_cannot_answer_now_is_a_503_page(browser, marketer, monkeypatch):
    from core.clickhouse.errors import ConnectionLost
    from dashboard import analytics

    def unavailable(**kwargs):
        raise ConnectionLost("the server went away")

    monkeypatch.setattr(analytics, "overview", unavailable)
    page = browser.get(f"/apps/{marketer[1].id}/overview")
    assert page.status_code == 503 and b"This report cannot be read right now" in page.content


def test_analytics_without_view_app_opens_the_reports_as_the_api_does(marketer):
    analyst = UserFactory(role="user")
    grant(analyst, marketer[1], "view_analytics")
    browser = Client()
    browser.force_login(analyst)
    assert browser.get(f"/apps/{marketer[1].id}/overview").status_code == 200
    refused = browser.get(f"/apps/{marketer[1].id}/links")
    assert refused.status_code == 403 and b"does not let you see this app" in refused.content


def test_an_admin_asking_for_an_app_that_does_not_exist_gets_the_404_page():
    admin = UserFactory(role="admin")
    browser = Client()
    browser.force_login(admin)
    assert browser.get("/apps/00000000-0000-4000-8000-000000000000/overview").status_code == 404


def test_an_unknown_page_is_the_sites_404_page_and_an_unknown_api_path_json(browser):
    page = browser.get("/no-such-page")
    assert page.status_code == 404 and b"There is no such page" in page.content
    api = browser.get("/api/no-such-endpoint")
    assert api.status_code == 404 and api.json() == {"error": "Not found.", "extra": {}}


def test_the_funnels_page_asks_for_steps_then_keeps_them_in_the_url(browser, marketer):
    app = marketer[1]
    empty = browser.get(f"/apps/{app.id}/funnels")
    assert empty.status_code == 200
    assert b"Pick two to eight steps" in empty.content
    assert b'<option value="install">install (new install)</option>' in empty.content
    shown = browser.get(f"/apps/{app.id}/funnels?steps=install&steps=purchase&window=3&split=source&days=30")
    assert shown.status_code == 200
    page = shown.content.decode()
    assert '<tr data-step="install">' in page and '<tr data-step="purchase">' in page
    assert re.search(r'<option value="purchase" selected>purchase</option>', page)
    assert '<option value="3" selected>3 days</option>' in page
    assert '<option value="source" selected>' in page
    assert f"/api/analytics/funnel.csv?app_id={app.id}&amp;steps=install&amp;steps=purchase" in page
    assert 'id="step-3"' in page  # room to add a third step
    bar = re.search(
        r'<form class="filters"[^>]*aria-label="Funnel steps and report filters" data-filters>(.*?)</form>', page, re.S
    )
    folded = re.search(r'<details class="more-filters">(.*?)</details>', bar[1], re.S)[1]
    assert 'id="id_media_source"' in folded and 'id="id_date_from"' in folded, "as on the other report pages"
    assert 'id="id_days"' not in folded and 'id="step-1"' not in folded and 'id="id_window"' not in folded
    narrowed = browser.get(f"/apps/{app.id}/funnels?steps=install&steps=purchase&country=DE").content.decode()
    assert '<details class="more-filters" open>' in narrowed, "a filter set under the disclosure shows it open"
    bad = browser.get(f"/apps/{app.id}/funnels?steps=purchase&steps=install&window=14")
    assert bad.status_code == 400
    assert b"can only be the first step" in bad.content
    assert b'<option value="14" selected>14 days</option>' in bad.content  # what was right stays chosen


def test_tiles_show_money_in_the_apps_currency_its_unconverted_part_and_the_change():
    from dashboard import presenters

    money = {"currency": "EUR", "amount": "150.0000", "unconverted": [{"currency": "GBP", "amount": "12.0000"}]}
    current = {"installs": 30.0, "revenue": money, "roas": None, "activeUsers": None, "cost": None}
    previous = {
        "installs": 20.0,
        "revenue": {**money, "amount": "200.0000"},
        "roas": 1.5,
        "activeUsers": 0,
        "cost": None,
    }
    names = ("installs", "revenue", "roas", "activeUsers", "cost")

    def tiles(cost_applies: bool) -> dict:
        return {
            tile["metric"]: tile
            for tile in presenters.tiles(
                current=current, previous=previous, names=names, currency="EUR", cost_applies=cost_applies
            )
        }

    shown = tiles(cost_applies=True)
    assert (shown["installs"]["display"], shown["installs"]["change"]) == ("30", 0.5)
    assert (shown["revenue"]["label"], shown["revenue"]["display"]) == ("Revenue (EUR)", "150.00")
    assert (shown["revenue"]["change"], shown["revenue"]["unconverted"]) == (-0.25, "GBP 12.0000")
    assert (shown["roas"]["known"], shown["roas"]["unknown_why"]) == (False, "no cost to divide by")
    assert shown["activeUsers"]["unknown_why"] == "not available under these filters"
    assert shown["cost"]["unknown_why"] == "no cost imported for the period"
    assert tiles(cost_applies=False)["cost"]["unknown_why"] == "not available under these filters"


def test_the_campaigns_page_refuses_an_unknown_level_or_sort_and_shows_its_empty_state(browser, marketer):
    app = marketer[1]
    empty = browser.get(f"/apps/{app.id}/campaigns?level=adset&media_source=meta&campaign=spring&sort=name")
    assert empty.status_code == 200
    page = empty.content.decode()
    assert "No installs, touches or cost for these filters." in page
    assert '<input type="hidden" name="level" value="adset">' in page, "Apply keeps the level and the sort"
    assert f'href="/api/analytics/campaigns.csv?app_id={app.id}&amp;level=adset&amp;days=7' in page
    assert '<li aria-current="page">Ad sets</li>' in page and ">spring</a></li>" in page
    bad = browser.get(f"/apps/{app.id}/campaigns?level=creative&sort=-price")
    assert bad.status_code == 400
    assert b"<strong>level</strong>" in bad.content and b"<strong>sort</strong>" in bad.content


def test_campaign_rows_sort_by_a_column_with_the_unknown_values_last_either_way():
    from dashboard.views import _sorted_rows

    rows = [
        {"mediaSource": "b", "roas": 2.0, "revenue": {"currency": "EUR", "amount": "5.0000", "unconverted": []}},
        {"mediaSource": "a", "roas": None, "revenue": {"currency": "EUR", "amount": "9.0000", "unconverted": []}},
        {"mediaSource": "c", "roas": 0.5, "revenue": {"currency": "EUR", "amount": "1.0000", "unconverted": []}},
    ]

    def order(sort: str) -> list[str]:
        return [row["mediaSource"] for row in _sorted_rows(rows, sort, "source")]

    assert order("-roas") == ["b", "c", "a"] and order("roas") == ["c", "b", "a"]
    assert order("-revenue") == ["a", "b", "c"]
    assert order("name") == ["a", "b", "c"] and order("-name") == ["c", "b", "a"]


def test_models_and_fraud_show_their_empty_states_and_say_which_filter_they_cannot_take(browser, marketer):
    app = marketer[1]
    models = browser.get(f"/apps/{app.id}/models?days=30&model=linear").content.decode()
    assert "No installs for these filters." in models
    assert 'name="model"' in models and '<input type="hidden" name="model" value="linear">' in models
    assert 'id="id_model"' not in models, "every model is shown: no model picker"
    fraud = browser.get(f"/apps/{app.id}/fraud?days=30")
    assert fraud.status_code == 200
    assert fraud.content.count(b"No flagged installs in this period.") == 1, "the chart's; the table says why"
    assert b"Nothing to list: no install of the period was won by a click less than" in fraud.content
    assert b"No installs won by a click in this period." in fraud.content
    narrowed = browser.get(f"/apps/{app.id}/fraud?media_source=meta").content.decode()
    assert "The fraud report lists every source; it takes no media source or campaign filter." in narrowed
    assert 'id="chart-ctit"' not in narrowed


def test_click_to_install_buckets_read_as_durations_and_empty_ones_count_zero():
    from dashboard.views import _ctit_table

    buckets, rows = _ctit_table(
        [
            {"mediaSource": "net", "fromSeconds": 0, "toSeconds": 10, "installs": 4},
            {"mediaSource": "meta", "fromSeconds": 600, "toSeconds": 3600, "installs": 7},
            {"mediaSource": "net", "fromSeconds": 604800, "toSeconds": None, "installs": 1},
        ]
    )
    assert buckets == [
        "< 10 s",
        "10 s \N{EN DASH} 1 min",
        "1 min \N{EN DASH} 10 min",
        "10 min \N{EN DASH} 1 h",
        "1 h \N{EN DASH} 6 h",
        "6 h \N{EN DASH} 24 h",
        "24 h \N{EN DASH} 7 d",
        "≥ 7 d",
    ]
    assert rows == [
        {"mediaSource": "meta", "installs": [0, 0, 0, 7, 0, 0, 0, 0]},
        {"mediaSource": "net", "installs": [4, 0, 0, 0, 0, 0, 0, 1]},
    ]


def test_the_conversion_story_takes_an_event_id_or_a_device_id_not_both(browser, marketer):
    app = marketer[1]
    unknown = browser.get(f"/apps/{app.id}/conversions?device_id=idfa-never-seen")
    assert unknown.status_code == 200 and b"No attributed conversion of this device" in unknown.content
    both = browser.get(f"/apps/{app.id}/conversions?event_id=00000000-0000-4000-8000-000000000001&device_id=x")
    assert both.status_code == 400 and b"Give an event id or a device id, not both." in both.content
    too_long = browser.get(f"/apps/{app.id}/conversions?device_id={'x' * 201}")
    assert too_long.status_code == 400 and b"at most 200 characters" in too_long.content


REPORT_PAGES = ("overview", "campaigns?level=ad", "models", "fraud", "conversions?device_id=idfa-1")


@pytest.mark.parametrize("path", REPORT_PAGES)
def test_each_report_page_is_refused_to_readonly_and_a_foreign_app_is_a_404(marketer, path):
    app = marketer[1]
    reader = UserFactory(role="readonly")
    grant(reader, app, "view_app", "view_analytics")
    refused = Client()
    refused.force_login(reader)
    answer = refused.get(f"/apps/{app.id}/{path}")
    assert answer.status_code == 403 and b"You cannot open this page" in answer.content
    stranger = UserFactory(role="user")
    grant(stranger, AppFactory(), "view_app", "view_analytics")
    outsider = Client()
    outsider.force_login(stranger)
    assert outsider.get(f"/apps/{app.id}/{path}").status_code == 404
    owner = Client()
    owner.force_login(marketer[0])
    assert owner.get(f"/apps/{app.id}/{path}").status_code == 200


def test_the_campaign_table_shows_its_first_rows_by_the_sort_and_links_to_every_row(browser, marketer, monkeypatch):
    """A long table (an ad level of hundreds of ads) shows its first rows in the chosen order, says how
    many there are and links to them all; the total is every row's."""
    from dashboard import cohorts, views

    def performance(*, app, filters, levels):
        money = {"currency": app.currency, "amount": "0.0000", "unconverted": []}
        empty = {**dict.fromkeys(views.CAMPAIGN_COLUMNS), "revenue": money, "cost": None}
        dimensions = {"mediaSource": "", "campaign": "", "adset": "", "ad": ""}
        rows = [{**empty, **dimensions, "mediaSource": f"source {n}", "installs": float(n)} for n in range(1, 4)]
        return {levels[0]: rows, None: [{**empty, "installs": 6.0}]}

    monkeypatch.setattr(cohorts, "campaign_performance", performance)
    monkeypatch.setattr(views, "SHOWN_ROWS", 2)
    app = marketer[1]
    page = browser.get(f"/apps/{app.id}/campaigns?days=7&sort=-installs").content.decode()
    assert '<tr data-row="source 3">' in page and '<tr data-row="source 2">' in page
    assert '<tr data-row="source 1">' not in page
    assert "The first 2 of 3 media sources in the table's order; the total counts all 3." in page
    assert 'href="?days=7&amp;model=last_touch&amp;level=source&amp;sort=-installs&amp;rows=all">Show all 3</a>' in page
    every = browser.get(f"/apps/{app.id}/campaigns?days=7&sort=-installs&rows=all").content.decode()
    assert '<tr data-row="source 1">' in every and "data-rows" not in every
    assert '<input type="hidden" name="rows" value="all">' in every, "Apply keeps every row shown"
    assert browser.get(f"/apps/{app.id}/campaigns?rows=some").status_code == 400


def test_the_ltv_chart_draws_the_cohorts_with_a_day_over_and_leaves_todays_out_of_its_legend(
    browser, marketer, monkeypatch
):
    """A cohort of today has no LTV point yet: drawn, it would be a name in the legend without a line."""
    from dashboard import cohorts

    horizon = cohorts.LTV_DEFAULT_HORIZON
    money = {"currency": "USD", "amount": "0.0000", "unconverted": []}

    def point(ltv):
        return {"ltv": ltv, "revenue": money}

    def retention(**_):
        return [
            {"cohort": day, "installs": installs, "retention": [None] * 31}
            for day, installs in (("2026-12-06", 2), ("2026-12-07", 5))
        ]

    def ltv_curves(**_):
        return [
            {"cohort": "2026-12-06", "installs": 2, "points": [point(1.5)] + [point(None)] * horizon},
            {"cohort": "2026-12-07", "installs": 5, "points": [point(None)] * (horizon + 1)},
        ]

    monkeypatch.setattr(cohorts, "retention", retention)
    monkeypatch.setattr(cohorts, "ltv_curves", ltv_curves)
    page = browser.get(f"/apps/{marketer[1].id}/cohorts").content.decode()
    option = re.search(r"<script id=\"chart-ltv\" type=\"application/json\">(.*?)</script>", page)
    series = json.loads(option.group(1))["series"]
    assert len(series) == 1 and series[0]["name"] in ("Dec 6", "Dec 6, 2026") and series[0]["data"][0] == 1.5
    assert "the 1 largest cohorts with a day over" in page


def test_a_cohort_is_named_as_the_other_dates_of_the_pages():
    """The day or week a cohort starts as the period and the charts name days, the year only when it
    is not the period's, and its source / campaign when split."""
    from dashboard.views import _cohort_label

    row = {"cohort": "2026-12-01", "mediaSource": "meta", "campaign": ""}
    assert _cohort_label(row, "none", "day", 2026) == "Dec 1"
    assert _cohort_label(row, "none", "week", 2026) == "Week of Dec 1"
    assert _cohort_label(row, "source", "day", 2027) == "Dec 1, 2026 · meta"
    assert _cohort_label(row, "campaign", "week", 2026, separator="\n") == "Week of Dec 1\nmeta / (none)"
