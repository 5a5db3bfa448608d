"""The cohort reports on hand-computed scenarios, sent through the real endpoints: clicks on tracking
links, installs, activity and purchases in three currencies, imported costs, the engine's last-touch
run. The app reports in US dollars in Berlin's time zone (UTC+1 in winter).

Day D is ten days before today in Berlin; the range is D and D+1, so days 0-9 of D's cohort are over
and day 10 on is not (null). Devices:
  dev1  click meta / spring, install D 10:00; purchase 10 EUR (12.5 USD) D 11:00 (day 0), open D+1
        12:00 (day 1), purchase 5 USD D+2 (day 2), open D+3 (day 3)
  dev2  click meta / spring, install D 22:00; open D+1 00:30 and purchase 3 SEK (no rate) D+1 00:45:
        day 1 in Berlin, still the install day in UTC
  dev3  organic install D 00:30 (the day before D in UTC): D's cohort in Berlin
  dev4  click google / brand, install D+1 12:00; purchase 20 USD D+8 10:00 (day 7)
Costs: meta / spring 8 EUR (10 USD) on D, google / brand 4 USD on D+1.
"""

import datetime as dt
import re
import uuid
import zoneinfo

import orjson
import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from apps_registry import costs, links
from core import clickhouse
from dashboard import credits
from events.attribution_engine import services
from tests.factories import UserFactory, bearer, grant
from tests.ingestion import app_with_key, count, post_events

pytestmark = pytest.mark.django_db(transaction=True)

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NULLS = [None] * 21  # days 10-30


def usd(amount: str, **unconverted: str) -> dict:
    return {
        "currency": "USD",
        "amount": amount,
        "unconverted": [{"currency": c, "amount": a} for c, a in sorted(unconverted.items())],
    }


def _touch(raw_key, touches):
    answer = APIClient().post(
        "/api/touchpoints",
        orjson.dumps({"touchpoints": touches}),
        content_type="application/json",
        HTTP_X_API_KEY=raw_key,
    )
    assert answer.status_code == 202, answer.content


def event(name, device, at, **fields):
    return {
        "event_name": name,
        "timestamp": at.isoformat(),
        "device_ids": {"idfa": device},
        "user_id": device,
        **fields,
    }


@pytest.fixture
def scenario(store_all, tmp_path):
    app, raw_key = app_with_key(timezone="Europe/Berlin", currency="USD")
    reader = UserFactory(role="user")
    grant(reader, app, "view_app", "view_analytics")
    day = dt.datetime.now(BERLIN).date() - dt.timedelta(days=10)

    def at(days, hour, minute=0):
        return dt.datetime.combine(day + dt.timedelta(days=days), dt.time(hour, minute), tzinfo=BERLIN)

    def link(source, campaign):
        return links.link_create(
            app=app, created_by=reader, name=f"{source} {campaign}", media_source=source, campaign=campaign,
            ios_url="https://apps.apple.com/app/id123",
        ).code  # fmt: skip

    spring, brand = link("meta", "spring"), link("google", "brand")
    _touch(
        raw_key,
        [
            {"type": "click", "link_code": spring, "device_ids": {"idfa": "DEV1"}, "timestamp": at(0, 9).isoformat()},
            {"type": "click", "link_code": spring, "device_ids": {"idfa": "DEV2"}, "timestamp": at(0, 21).isoformat()},
            {"type": "click", "link_code": brand, "device_ids": {"idfa": "DEV4"}, "timestamp": at(1, 11).isoformat()},
        ],
    )
    events = [
        event("install", "DEV1", at(0, 10)),
        event("purchase", "DEV1", at(0, 11), revenue=10, currency="EUR"),
        event("open", "DEV1", at(1, 12)),
        event("purchase", "DEV1", at(2, 12), revenue=5, currency="USD"),
        event("open", "DEV1", at(3, 12)),
        event("install", "DEV2", at(0, 22)),
        event("open", "DEV2", at(1, 0, 30)),
        event("purchase", "DEV2", at(1, 0, 45), revenue=3, currency="SEK"),
        event("install", "DEV3", at(0, 0, 30)),
        event("install", "DEV4", at(1, 12)),
        event("purchase", "DEV4", at(8, 10), revenue=20, currency="USD"),
    ]
    assert post_events(raw_key, events).status_code == 202
    store_all(until=lambda: count("events", app.id) >= len(events) and count("touchpoints", app.id) >= 3)
    services.attribution_run(app=app, since=at(-2, 0), until=at(10, 0))

    rates = tmp_path / "rates.csv"
    rates.write_text(f"date,currency,per_usd\n{day - dt.timedelta(days=10)},EUR,0.8\n")
    call_command("import_exchange_rates", str(rates))
    spend = [f"{day},meta,spring,,,EUR,8", f"{day + dt.timedelta(days=1)},google,brand,,,USD,4"]
    costs.costs_import(data="date,source,campaign,adset,ad,currency,cost\n" + "\n".join(spend) + "\n", app=app)
    query = f"app_id={app.id}&date_from={day}&date_to={day + dt.timedelta(days=1)}&model=last_touch"
    return {"app": app, "reader": reader, "day": day, "query": query}


def get(path, scenario, **params):
    extra = "".join(f"&{k}={v}" for k, v in params.items())
    return APIClient().get(f"{path}?{scenario['query']}{extra}", **bearer(scenario["reader"]))


def test_the_retention_matrix_cuts_days_in_the_apps_time_zone(scenario):
    body = get("/api/analytics/cohorts", scenario).json()
    day = scenario["day"]
    assert (body["granularity"], body["split"], body["periods"]) == ("day", "none", list(range(31)))
    assert (body["since"], body["until"]) == (
        f"{day - dt.timedelta(days=1)}T23:00:00+00:00",
        f"{day + dt.timedelta(days=1)}T23:00:00+00:00",
    )
    preset = (
        APIClient()
        .get(f"/api/analytics/cohorts?app_id={scenario['app'].id}&days=14", **bearer(scenario["reader"]))
        .json()
    )
    since = dt.datetime.fromisoformat(preset["since"]).astimezone(BERLIN)
    assert since.time() == dt.time(0) and since.date() == day - dt.timedelta(days=3), "whole days of the preset"
    assert [row["cohort"] for row in preset["rows"]] == [str(day), str(day + dt.timedelta(days=1))]
    first, second = body["rows"]
    # D: dev1, dev2 and dev3 (00:30 in Berlin); day 1: dev1 and dev2 (00:30 in Berlin); days 2, 3: dev1.
    assert first == {
        "cohort": str(day),
        "installs": 3.0,
        "retained": [3.0, 2.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, *NULLS],
        "retention": [1.0, 0.666667, 0.333333, 0.333333, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, *NULLS],
    }
    # D+1: dev4, active on day 7 (its purchase); day 9 is today: not over.
    assert second == {
        "cohort": str(day + dt.timedelta(days=1)),
        "installs": 1.0,
        "retained": [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, None, *NULLS],
        "retention": [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, None, *NULLS],
    }


def test_retention_splits_by_media_source_and_exports_as_csv(scenario):
    rows = get("/api/analytics/cohorts", scenario, split="source").json()["rows"]
    assert [(row["cohort"], row["mediaSource"], row["installs"], row["retention"][:4]) for row in rows] == [
        (str(scenario["day"]), "meta", 2.0, [1.0, 1.0, 0.5, 0.5]),
        (str(scenario["day"]), "organic", 1.0, [1.0, 0.0, 0.0, 0.0]),
        (str(scenario["day"] + dt.timedelta(days=1)), "google", 1.0, [1.0, 0.0, 0.0, 0.0]),
    ]
    response = get("/api/analytics/cohorts.csv", scenario, split="campaign")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "cohort,mediaSource,campaign,installs," + ",".join(f"D{n}" for n in range(31))
    assert lines[1] == f"{scenario['day']},meta,spring,2.0,1.0,1.0,0.5,0.5,0.0,0.0,0.0,0.0,0.0,0.0" + "," * 21


def test_an_ltv_curve_converts_at_the_days_rate_and_keeps_an_unconverted_currency_apart(scenario):
    body = get("/api/analytics/ltv", scenario, split="source", horizon=10).json()
    assert body["horizon"] == 10
    meta, organic, google = body["rows"]
    assert (meta["mediaSource"], meta["installs"], organic["mediaSource"], google["mediaSource"]) == (
        "meta",
        2.0,
        "organic",
        "google",
    )
    # meta: 10 EUR on day 0 (12.5 USD) / 2 installs; 3 SEK on day 1 has no rate: no LTV from then on.
    assert meta["points"][:3] == [
        {"day": 0, "revenue": usd("12.5000"), "ltv": 6.25},
        {"day": 1, "revenue": usd("12.5000", SEK="3.0000"), "ltv": None},
        {"day": 2, "revenue": usd("17.5000", SEK="3.0000"), "ltv": None},
    ]
    assert meta["points"][10] == {"day": 10, "revenue": None, "ltv": None}, "day 10 of D is today"
    assert [point["ltv"] for point in organic["points"]] == [0.0] * 10 + [None]
    # google (D+1): 20 USD on day 7; day 9 is today.
    assert [point["ltv"] for point in google["points"]] == [0.0] * 7 + [20.0, 20.0, None, None]
    whole = get("/api/analytics/ltv", scenario, horizon=1).json()["rows"][0]
    assert whole["points"] == [
        {"day": 0, "revenue": usd("12.5000"), "ltv": 4.166667},
        {"day": 1, "revenue": usd("12.5000", SEK="3.0000"), "ltv": None},
    ]
    lines = b"".join(get("/api/analytics/ltv.csv", scenario, horizon=2).streaming_content).decode().splitlines()
    assert lines == [
        "cohort,installs,D0,D1,D2,revenue,revenueUnconverted",
        f"{scenario['day']},3.0,4.166667,,,17.5000,SEK 3.0000",
        f"{scenario['day'] + dt.timedelta(days=1)},1.0,0.0,0.0,0.0,0.0000,",
    ]


def test_week_cohorts_follow_monday_weeks_of_the_apps_time_zone(store_all):
    """devA installs on a Sunday at 23:30 in Berlin, devB on the next Monday at 00:30 (still Sunday in
    UTC): two cohorts in Berlin. Each is active again the week after its install."""
    app, raw_key = app_with_key(timezone="Europe/Berlin", currency="USD")
    reader = UserFactory(role="user")
    grant(reader, app, "view_app", "view_analytics")
    today = dt.datetime.now(BERLIN).date()
    monday = today - dt.timedelta(days=today.weekday() + 28)  # four weeks before this week's Monday

    def at(days, hour, minute=0):
        return dt.datetime.combine(monday + dt.timedelta(days=days), dt.time(hour, minute), tzinfo=BERLIN)

    events = [
        event("install", "DEVA", at(6, 23, 30)),
        event("purchase", "DEVA", at(7, 10), revenue=1, currency="USD"),
        event("install", "DEVB", at(7, 0, 30)),
        event("purchase", "DEVB", at(14, 10), revenue=1, currency="USD"),
    ]
    assert post_events(raw_key, events).status_code == 202
    store_all(until=lambda: count("events", app.id) >= len(events))
    services.attribution_run(app=app, since=at(-1, 0), until=at(15, 0))
    query = f"app_id={app.id}&date_from={monday}&date_to={monday + dt.timedelta(days=13)}&granularity=week"
    body = APIClient().get(f"/api/analytics/cohorts?{query}", **bearer(reader)).json()
    assert body["periods"] == list(range(13))
    # Week n of a cohort is over once its Monday + 7 (n + 1) days has come: W0-W3 of the first, W0-W2
    # of the second (today is in the fourth week after the first cohort's).
    assert [(row["cohort"], row["installs"], row["retention"]) for row in body["rows"]] == [
        (str(monday), 1.0, [1.0, 1.0, 0.0, 0.0] + [None] * 9),
        (str(monday + dt.timedelta(days=7)), 1.0, [1.0, 1.0, 0.0] + [None] * 10),
    ]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/analytics/cohorts", "&granularity=month", "granularity"),
        ("/api/analytics/cohorts", "&split=country", "split"),
        ("/api/analytics/ltv", "&horizon=181", "horizon"),
        ("/api/analytics/ltv.csv", "&horizon=-1", "horizon"),
        ("/api/analytics/cohorts.csv", "&date_to=2026-01-01", "date_to"),
    ],
)
def test_bad_cohort_options_are_a_400_naming_them(path, params, field):
    reader = UserFactory(role="user")
    app, _ = app_with_key()
    grant(reader, app, "view_app", "view_analytics")
    response = APIClient().get(f"{path}?app_id={app.id}&date_from=2026-11-01{params}", **bearer(reader))
    assert response.status_code == 400
    assert field in str(response.json())


def test_the_scenarios_cohort_answers_have_the_documented_shapes(scenario, client):
    from tests.test_openapi import _documented_response_schema, validator

    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path, params in (
        ("/api/analytics/cohorts", {"split": "campaign"}),
        ("/api/analytics/cohorts", {"granularity": "week"}),
        ("/api/analytics/ltv", {"split": "source"}),
    ):
        body = get(path, scenario, **params).json()
        documented = _documented_response_schema(schema, "GET", path, 200)
        errors = [error.message for error in validator(schema, documented, strict=True).iter_errors(body)]
        assert errors == [], path


def test_the_campaign_report_has_roas_and_retention_by_day_since_install(scenario):
    """Costs: meta 10 USD, google 4 USD. Day 0 revenue: dev1's 12.5 USD; by day 7: dev1's 5 USD, dev2's
    3 SEK (no rate) and dev4's 20 USD too. Day 30 of D+1 is not over."""
    body = get("/api/analytics/campaigns", scenario, level="source").json()
    columns = ("mediaSource", "installs", "roasD0", "roasD7", "roasD30", "retentionD1", "retentionD7", "retentionD30")
    assert [tuple(row[c] for c in columns) for row in body["rows"]] == [
        ("meta", 2.0, 1.25, None, None, 1.0, 0.0, None),
        ("google", 1.0, 0.0, 5.0, None, 0.0, 1.0, None),
        ("organic", 1.0, None, None, None, 0.0, 0.0, None),  # no cost: no ROAS
    ]
    total = body["total"]
    assert tuple(total[c] for c in columns[2:]) == (0.892857, None, None, 0.5, 0.25, None)  # 12.5 / 14; 2 / 4; 1 / 4
    spring = get("/api/analytics/campaigns", scenario, level="ad", media_source="meta").json()
    assert [tuple(row[c] for c in ("campaign", "roasD0", "retentionD1")) for row in spring["rows"]] == [
        ("spring", 1.25, 1.0)
    ]
    assert (spring["total"]["roasD0"], spring["total"]["retentionD1"]) == (1.25, 1.0)
    lines = b"".join(get("/api/analytics/campaigns.csv", scenario).streaming_content).decode().splitlines()
    assert lines[0].endswith(",roas,roasD0,roasD7,roasD30,retentionD1,retentionD7,retentionD30")
    assert lines[2].startswith("google,") and lines[2].endswith(",0.0,5.0,,0.0,1.0,")


def test_the_cohorts_page_reads_the_selectors(scenario):
    """The page's heatmap, LTV curves and table carry the API's numbers, in the app's time zone."""
    from django.test import Client

    browser = Client()
    browser.force_login(scenario["reader"])
    day = scenario["day"]

    def named(cohort: dt.date) -> str:  # "Dec 4": as the pages name a day, the year when not the period's
        last = day + dt.timedelta(days=1)
        return f"{cohort:%b} {cohort.day}" + ("" if cohort.year == last.year else f", {cohort.year}")

    page = browser.get(f"/apps/{scenario['app'].id}/cohorts?{scenario['query']}&split=source")
    assert page.status_code == 200
    html = page.content.decode()
    heatmap = orjson.loads(re.search(r'<script id="chart-retention" type="application/json">(.*?)</script>', html)[1])
    assert heatmap["yAxis"]["data"] == [
        f"{named(day)}\nmeta",
        f"{named(day)}\norganic",
        f"{named(day + dt.timedelta(days=1))}\ngoogle",
    ]
    assert [cell for cell in heatmap["series"][0]["data"] if cell[0] <= 2] == [
        [0, 0, 1.0], [1, 0, 1.0], [2, 0, 0.5],
        [0, 1, 1.0], [1, 1, 0.0], [2, 1, 0.0],
        [0, 2, 1.0], [1, 2, 0.0], [2, 2, 0.0],
    ]  # fmt: skip
    ltv = orjson.loads(re.search(r'<script id="chart-ltv" type="application/json">(.*?)</script>', html)[1])
    assert ltv["unit"] == "USD" and ltv["series"][0]["name"] == f"{named(day)} · meta"
    assert ltv["series"][0]["data"][:2] == [6.25, None]
    row = re.search(rf'<tr data-cohort="{named(day)} · meta">(.*?)</tr>', html, re.S)[1]
    # installs; D0, D1, D3, D7 and D14, D30 (not over: a long dash); LTV D7 (a SEK purchase: a short
    # dash) and D30 (not over: a long dash)
    assert re.findall(r'<td class="num"[^>]*>([^<]*)<', row) == ["2", "100.0%", "100.0%", "50.0%", "0.0%", *[""] * 4]
    assert re.findall(r'title="([^"]*)">[\N{EM DASH}\N{EN DASH}]<', row) == [
        *["Not over yet"] * 2,
        "Part of the revenue is in a currency without a rate",
        "Not over yet",
    ]
    assert "/api/analytics/cohorts.csv?app_id=" in html and "split=source" in html


def test_the_campaigns_page_shows_roas_and_retention_by_day_since_install(scenario):
    """The page's cohort columns are the API's; a day not over yet is a long dash that says so, never a
    0, apart from the short dash of a value that cannot be (no cost, a currency without a rate)."""
    from django.test import Client

    browser = Client()
    browser.force_login(scenario["reader"])
    day = scenario["day"]
    page = browser.get(f"/apps/{scenario['app'].id}/campaigns?{scenario['query']}")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'colspan="3" class="group" title="Day n after install, day 0 being the install day">ROAS by day</th>' in html
    assert '<span class="visually-hidden">ROAS D7</span><span aria-hidden="true">D7</span>' in html
    assert 'title="Share of the installs active on day 30 after install (day 0: the install day)."' in html

    def cells(row: str) -> dict[str, str]:
        found = re.search(rf'<tr data-row="{row}">(.*?)</tr>', html, re.S)[1]
        return dict(re.findall(r'<td class="num" data-metric="(\w+D\d+)"[^>]*>(.*?)</td>', found, re.S))

    meta = cells("meta")
    assert (meta["roasD0"], meta["retentionD1"], meta["retentionD7"]) == ("125%", "100.0%", "0.0%")
    assert meta["roasD7"] == "\N{EN DASH}", "day 7 is over: no value because of the SEK purchase, not a pending one"
    known_from = day + dt.timedelta(days=32)
    not_over = '<span aria-hidden="true">\N{EM DASH}</span><span class="visually-hidden">not known yet</span>'
    assert meta["roasD30"] == meta["retentionD30"] == not_over
    assert (
        f'data-not-over title="Not known yet: day 30 after install is not over for the period&#x27;s last installs '
        f'({known_from:%b} {known_from.day}).">'
    ) in html
    organic = cells("organic")
    # No cost: ROAS never has a value, even on a day not over yet; retention that day is pending.
    assert organic["roasD0"] == organic["roasD30"] == "\N{EN DASH}" and organic["retentionD30"] == not_over
    assert cells("total")["retentionD7"] == "25.0%"
    assert f"D30 from {known_from:%b} {known_from.day}." in html
    today = dt.datetime.now(BERLIN).date()
    ended = today - dt.timedelta(days=31)
    assert f"?date_from={ended - dt.timedelta(days=1)}&amp;date_to={ended}&amp;model=last_touch" in html


def test_an_event_belongs_to_its_devices_latest_new_install_at_or_before_it():
    """``credits.active_periods`` on rows stored directly: a device with two new installs, the later one
    stored first. Each event is the install's at or before it (the install's own event included); an
    event before both is nobody's."""
    app_id, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    t = dt.datetime(2026, 6, 10, 12, tzinfo=dt.UTC)
    day = dt.timedelta(days=1)
    for conversion, at in ((second, t + 3 * day), (first, t)):  # two parts, the later install's first
        clickhouse.insert(
            "attributions",
            [
                {
                    "app_id": app_id,
                    "conversion_id": conversion,
                    "conversion_kind": "install",
                    "conversion_time": at,
                    "device_key": "phone",
                }
            ],
            columns=["app_id", "conversion_id", "conversion_kind", "conversion_time", "device_key"],
            tag="test.active_periods",
        )
    clickhouse.insert(
        "events",
        [
            {
                "app_id": app_id,
                "event_id": uuid.uuid4(),
                "event_name": "open",
                "timestamp": at,
                "received_at": at,
                "device_id": "phone",
            }
            for at in (t - dt.timedelta(hours=1), t, t + day, t + 3 * day + dt.timedelta(hours=2), t + 4 * day)
        ],
        columns=["app_id", "event_id", "event_name", "timestamp", "received_at", "device_id"],
        tag="test.active_periods",
    )
    active = credits.active_periods("[(1, toDate({column}, {{tz:String}}))]")
    rows = clickhouse.execute(
        f"SELECT conversion_id, period FROM ({active}) ORDER BY period",
        {"app_id": app_id, "since": t - 2 * day, "until": t + 10 * day, "tz": "UTC"},
        tag="test.active_periods",
    ).rows
    assert rows == [
        (first, t.date()),
        (first, (t + day).date()),
        (second, (t + 3 * day).date()),
        (second, (t + 4 * day).date()),
    ]
