"""The analytics reports on one hand-computed scenario, sent through the real endpoints: clicks and
impressions on tracking links, installs and purchases in three currencies, imported costs, the
engine's last-touch run. The app reports in US dollars in Berlin's time zone (UTC+1 in December).

Day D is the day before yesterday in Berlin; the range is D and D+1. Devices:
  dev1  click on ad a1 (meta / spring / s1), install, purchases 10 EUR (12.5 USD) and 5 USD
  dev2  click on ad a2 (meta / spring / s2), install, purchase 3 SEK (no rate: unconverted)
  dev3  click on google / brand, install, no purchase
  dev4  no touch: organic install, purchase 20 USD on D+1
  dev5  an impression of a1, no install; dev6 a click on a1, no install
  dev7  organic install at 23:30 Berlin the day before D (22:30 UTC): the previous period
  dev8  organic install at 00:30 Berlin on D (23:30 UTC the day before): this period
Costs: a1 8 EUR (10 USD) on D, a2 5 USD on D+1, brand 4 USD on D; 100 USD on D+2 and 6 USD (brand) on
D-1 are outside the range (D-1 in the previous period).
"""

import datetime as dt
import zoneinfo

import orjson
import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from apps_registry import costs, links
from dashboard import analytics
from dashboard.filters import report_filters
from events.attribution_engine import services
from tests.factories import UserFactory, bearer, grant
from tests.ingestion import app_with_key, count, post_events

pytestmark = pytest.mark.django_db(transaction=True)

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def usd(amount: str, **unconverted: str) -> dict:
    return {
        "currency": "USD",
        "amount": amount,
        "unconverted": [{"currency": c, "amount": a} for c, a in sorted(unconverted.items())],
    }


@pytest.fixture
def scenario(store_all, tmp_path):
    app, raw_key = app_with_key(timezone="Europe/Berlin", currency="USD")
    reader = UserFactory(role="user")
    grant(reader, app, "view_app", "view_analytics")
    day = dt.datetime.now(BERLIN).date() - dt.timedelta(days=2)
    t0 = dt.datetime.combine(day, dt.time(10), tzinfo=BERLIN).astimezone(dt.UTC)
    hour = dt.timedelta(hours=1)

    def link(source, campaign, adset="", ad=""):
        return links.link_create(
            app=app,
            created_by=reader,
            name=f"{source} {campaign} {ad}",
            media_source=source,
            campaign=campaign,
            adset=adset,
            ad=ad,
            ios_url="https://apps.apple.com/app/id123",
        ).code

    a1, a2, brand = link("meta", "spring", "s1", "a1"), link("meta", "spring", "s2", "a2"), link("google", "brand")
    touches = [
        {"type": "click", "link_code": a1, "device_ids": {"idfa": "DEV1"}},
        {"type": "click", "link_code": a2, "device_ids": {"idfa": "DEV2"}},
        {"type": "click", "link_code": brand, "device_ids": {"idfa": "DEV3"}},
        {"type": "impression", "link_code": a1, "device_ids": {"idfa": "DEV5"}},
        {"type": "click", "link_code": a1, "device_ids": {"idfa": "DEV6"}},
    ]
    for touch in touches:
        touch["timestamp"] = (t0 - hour).isoformat()
    answer = APIClient().post(
        "/api/touchpoints",
        orjson.dumps({"touchpoints": touches}),
        content_type="application/json",
        HTTP_X_API_KEY=raw_key,
    )
    assert answer.status_code == 202, answer.content

    def install(device, at):
        return {"event_name": "install", "timestamp": at.isoformat(), "device_ids": {"idfa": device}, "user_id": device}

    def purchase(device, at, revenue, currency):
        return {
            "event_name": "purchase",
            "timestamp": at.isoformat(),
            "device_ids": {"idfa": device},
            "user_id": device,
            "revenue": revenue,
            "currency": currency,
        }

    midnight = dt.datetime.combine(day, dt.time(), tzinfo=BERLIN).astimezone(dt.UTC)
    events = [
        *(install(device, t0) for device in ("DEV1", "DEV2", "DEV3", "DEV4")),
        install("DEV7", midnight - hour / 2),
        install("DEV8", midnight + hour / 2),
        purchase("DEV1", t0 + hour, 10, "EUR"),
        purchase("DEV1", t0 + 2 * hour, 5, "USD"),
        purchase("DEV2", t0 + hour, 3, "SEK"),
        purchase("DEV4", t0 + 24 * hour, 20, "USD"),
    ]
    assert post_events(raw_key, events).status_code == 202
    store_all(until=lambda: count("events", app.id) >= 10 and count("touchpoints", app.id) >= 5)
    services.attribution_run(app=app, since=midnight - 2 * dt.timedelta(days=1), until=t0 + 25 * hour)

    rates = tmp_path / "rates.csv"
    rates.write_text(
        f"date,currency,per_usd\n{day - dt.timedelta(days=10)},USD,1\n{day - dt.timedelta(days=10)},EUR,0.8\n"
    )
    call_command("import_exchange_rates", str(rates))
    spend = [
        f"{day},meta,spring,s1,a1,EUR,8",
        f"{day + dt.timedelta(days=1)},meta,spring,s2,a2,USD,5",
        f"{day},google,brand,,,USD,4",
        f"{day + dt.timedelta(days=2)},meta,spring,s1,a1,USD,100",
        f"{day - dt.timedelta(days=1)},google,brand,,,USD,6",
    ]
    costs.costs_import(data="date,source,campaign,adset,ad,currency,cost\n" + "\n".join(spend) + "\n", app=app)
    query = f"app_id={app.id}&date_from={day}&date_to={day + dt.timedelta(days=1)}&model=last_touch"
    return {"app": app, "reader": reader, "day": day, "query": query}


def get(path, scenario, **params):
    extra = "".join(f"&{k}={v}" for k, v in params.items())
    return APIClient().get(f"{path}?{scenario['query']}{extra}", **bearer(scenario["reader"]))


A1 = {
    "mediaSource": "meta",
    "campaign": "spring",
    "adset": "s1",
    "ad": "a1",
    "impressions": 1,
    "clicks": 2,
    "installs": 1.0,
    "nonOrganicInstalls": 1.0,
    "payingUsers": 1.0,
    "revenue": usd("17.5000"),
    "cost": usd("10.0000"),
    "ctr": 2.0,
    "clickToInstallRate": 0.5,
    "installToPurchaseRate": 1.0,
    "arpu": 17.5,
    "arppu": 17.5,
    "ecpi": 10.0,
    "roas": 1.75,
    "roasD0": 1.75,
    "roasD7": None,  # D+1 is yesterday: only its day 0 is over
    "roasD30": None,
    "retentionD1": None,
    "retentionD7": None,
    "retentionD30": None,
}
A2 = {
    "mediaSource": "meta",
    "campaign": "spring",
    "adset": "s2",
    "ad": "a2",
    "impressions": 0,
    "clicks": 1,
    "installs": 1.0,
    "nonOrganicInstalls": 1.0,
    "payingUsers": 1.0,
    "revenue": usd("0.0000", SEK="3.0000"),
    "cost": usd("5.0000"),
    "ctr": None,
    "clickToInstallRate": 1.0,
    "installToPurchaseRate": 1.0,
    "arpu": None,  # part of the revenue has no rate: no ratio rather than a wrong one
    "arppu": None,
    "ecpi": 5.0,
    "roas": None,
    "roasD0": None,
    "roasD7": None,  # D+1 is yesterday: only its day 0 is over
    "roasD30": None,
    "retentionD1": None,
    "retentionD7": None,
    "retentionD30": None,
}
BRAND = {
    "mediaSource": "google",
    "campaign": "brand",
    "adset": "",
    "ad": "",
    "impressions": 0,
    "clicks": 1,
    "installs": 1.0,
    "nonOrganicInstalls": 1.0,
    "payingUsers": 0.0,
    "revenue": usd("0.0000"),
    "cost": usd("4.0000"),
    "ctr": None,
    "clickToInstallRate": 1.0,
    "installToPurchaseRate": 0.0,
    "arpu": 0.0,
    "arppu": None,
    "ecpi": 4.0,
    "roas": 0.0,
    "roasD0": 0.0,
    "roasD7": None,  # D+1 is yesterday: only its day 0 is over
    "roasD30": None,
    "retentionD1": None,
    "retentionD7": None,
    "retentionD30": None,
}
ORGANIC = {
    "mediaSource": "organic",
    "campaign": "",
    "adset": "",
    "ad": "",
    "impressions": None,  # organic installs had no touch
    "clicks": None,
    "installs": 2.0,  # dev4 and dev8 (00:30 in Berlin); dev7 installed the evening before
    "nonOrganicInstalls": 0.0,
    "payingUsers": 1.0,
    "revenue": usd("20.0000"),
    "cost": None,  # no cost imported for organic installs (not a cost of 0)
    "ctr": None,
    "clickToInstallRate": None,
    "installToPurchaseRate": 0.5,
    "arpu": 10.0,
    "arppu": 20.0,
    "ecpi": None,
    "roas": None,
    "roasD0": None,
    "roasD7": None,  # D+1 is yesterday: only its day 0 is over
    "roasD30": None,
    "retentionD1": None,
    "retentionD7": None,
    "retentionD30": None,
}


def test_campaigns_drill_down_to_ads_and_every_level_adds_up(scenario):
    body = get("/api/analytics/campaigns", scenario, level="ad").json()
    assert body["rows"] == [ORGANIC, BRAND, A1, A2]
    assert body["currency"] == "USD" and body["timeZone"] == "Europe/Berlin" and body["model"] == "last_touch"
    assert body["since"] == f"{scenario['day'] - dt.timedelta(days=1)}T23:00:00+00:00"
    assert body["total"] == {
        "impressions": 1,
        "clicks": 4,
        "installs": 5.0,
        "nonOrganicInstalls": 3.0,
        "payingUsers": 3.0,
        "revenue": usd("37.5000", SEK="3.0000"),
        "cost": usd("19.0000"),
        "ctr": 4.0,
        "clickToInstallRate": 0.75,
        "installToPurchaseRate": 0.6,
        "arpu": None,
        "arppu": None,
        "ecpi": 6.333333,
        "roas": None,
        "roasD0": None,  # the SEK is day 0 revenue too
        "roasD7": None,
        "roasD30": None,
        "retentionD1": None,
        "retentionD7": None,
        "retentionD30": None,
        "totalEvents": 9,  # five installs and four purchases in the range
        "activeUsers": 5,
    }
    sources = get("/api/analytics/campaigns", scenario, level="source").json()["rows"]
    meta = next(row for row in sources if row["mediaSource"] == "meta")
    assert [row["mediaSource"] for row in sources] == ["meta", "organic", "google"]  # ties by name
    assert {k: meta[k] for k in ("impressions", "clicks", "installs", "payingUsers", "revenue", "cost", "ecpi")} == {
        "impressions": 1,
        "clicks": 3,
        "installs": 2.0,
        "payingUsers": 2.0,
        "revenue": usd("17.5000", SEK="3.0000"),
        "cost": usd("15.0000"),
        "ecpi": 7.5,
    }
    branch = get("/api/analytics/campaigns", scenario, level="adset", media_source="meta").json()
    assert [(row["adset"], row["installs"], row["cost"]["amount"]) for row in branch["rows"]] == [
        ("s1", 1.0, "10.0000"),
        ("s2", 1.0, "5.0000"),
    ]
    assert branch["total"]["installs"] == meta["installs"] and branch["total"]["cost"] == meta["cost"]
    assert branch["total"]["totalEvents"] is None, "activity carries no media source"


def test_a_country_or_platform_filter_nulls_what_it_cannot_narrow(scenario):
    body = get("/api/analytics/campaigns", scenario, level="source", country="DE").json()
    assert body["rows"] == []  # no install event sent a country
    total = body["total"]
    assert (total["installs"], total["clicks"], total["impressions"], total["cost"], total["ecpi"]) == (
        0.0,
        None,
        None,
        None,
        None,
    )


def test_the_overview_compares_with_the_period_before(scenario):
    body = get("/api/analytics/overview", scenario).json()
    assert body["previousSince"] == f"{scenario['day'] - dt.timedelta(days=3)}T23:00:00+00:00"
    assert body["current"]["installs"] == 5.0 and body["current"]["cost"] == usd("19.0000")
    previous = body["previous"]
    assert (previous["installs"], previous["nonOrganicInstalls"], previous["clicks"], previous["cost"]) == (
        1.0,
        0.0,
        0,
        usd("6.0000"),
    )
    assert (previous["totalEvents"], previous["activeUsers"]) == (1, 1)
    assert {m["name"]: m["unit"] for m in body["metrics"]}["ecpi"] == "money"


def test_the_daily_series_cuts_days_in_the_apps_time_zone(scenario):
    body = get("/api/analytics/series", scenario, interval="day").json()
    day = scenario["day"]
    assert body["points"] == [
        {
            "start": str(day),
            "totalEvents": 8,
            "dau": 5,
            "installs": 5,
            "organicInstalls": 2,
            "nonOrganicInstalls": 3,
            "reattributions": 0,
            "reengagements": 0,
            "revenue": usd("17.5000", SEK="3.0000"),
        },
        {
            "start": str(day + dt.timedelta(days=1)),
            "totalEvents": 1,
            "dau": 1,
            "installs": 0,
            "organicInstalls": 0,
            "nonOrganicInstalls": 0,
            "reattributions": 0,
            "reengagements": 0,
            "revenue": usd("20.0000"),
        },
    ]


def test_the_series_merges_its_buckets_people_into_the_periods_active_users(scenario):
    """The overview page reads the period's activity with its series (``series_with_activity``)."""
    app, day = scenario["app"], scenario["day"]
    data = {"date_from": str(day), "date_to": str(day + dt.timedelta(days=1))}
    filters = report_filters(data=data, default_model="last_touch", time_zone=app.timezone)
    for interval in analytics.SERIES_INTERVALS:
        points, activity_now = analytics.series_with_activity(app=app, filters=filters, interval=interval)
        assert points == analytics.series(app=app, filters=filters, interval=interval)
        # DEV4 was active on both days: one active user, where the days' DAU add up to 6.
        assert activity_now == analytics.activity(app=app, filters=filters) == {"totalEvents": 9, "activeUsers": 5}


def test_the_hourly_series_starts_at_local_midnight(scenario):
    points = get("/api/analytics/series", scenario, interval="hour").json()["points"]
    assert len(points) == 48 and points[0]["start"] == f"{scenario['day']}T00:00:00+01:00"
    assert points[0]["installs"] == 1, "dev8 installed at 00:30 in Berlin"
    assert points[10]["installs"] == 4 and points[11]["revenue"] == usd("12.5000", SEK="3.0000")
    assert sum(point["installs"] for point in points) == 5


@pytest.mark.parametrize(
    ("zone_name", "day"),
    [
        ("Europe/Berlin", "2024-10-27"),  # an hour repeated
        ("Australia/Lord_Howe", "2024-10-06"),  # half an hour skipped
        ("Australia/Lord_Howe", "2024-04-07"),  # half an hour repeated
        ("Pacific/Chatham", "2024-09-29"),  # an hour skipped at 02:45
        ("America/Santiago", "2024-09-08"),  # no midnight
        ("Asia/Kolkata", "2024-10-05"),
    ],
)
def test_the_hourly_series_has_every_hour_clickhouse_counts_in(zone_name, day):
    """Each moment of the period falls in an hour of the series as ClickHouse starts it, so no count is
    left out (with the wall clock's hours, Lord Howe's hours after its change are not ClickHouse's)."""
    from apps_registry.models import App
    from core import clickhouse

    app = App(timezone=zone_name)
    first = dt.date.fromisoformat(day) - dt.timedelta(days=1)
    data = {"date_from": str(first), "date_to": str(first + dt.timedelta(days=2))}
    filters = report_filters(data=data, default_model="last_touch", time_zone=zone_name)
    hours = analytics._hours(app, filters)
    moments = [
        filters.since + dt.timedelta(minutes=5 * n)
        for n in range(int((filters.until - filters.since) / dt.timedelta(minutes=5)))
    ]
    counted_in = clickhouse.execute(
        "SELECT arrayMap(m -> toUnixTimestamp(toStartOfHour(m, {tz:String})), {moments:Array(DateTime64(3, 'UTC'))})",
        {"moments": moments, "tz": zone_name},
        tag="test.hours",
    ).scalar()
    assert hours == sorted(set(hours)) and hours[0] <= filters.since
    assert {dt.datetime.fromtimestamp(hour, dt.UTC) for hour in counted_in} == set(hours)


def test_tables_export_as_csv(scenario):
    response = get("/api/analytics/campaigns.csv", scenario, level="source")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == (
        "mediaSource,impressions,clicks,installs,nonOrganicInstalls,payingUsers,revenue,revenueUnconverted,"
        "cost,costUnconverted,ctr,clickToInstallRate,installToPurchaseRate,arpu,arppu,ecpi,roas,"
        "roasD0,roasD7,roasD30,retentionD1,retentionD7,retentionD30"
    )
    assert lines[1:] == [
        "meta,1,3,2.0,2.0,2.0,17.5000,SEK 3.0000,15.0000,,3.0,0.666667,1.0,,,7.5,,,,,,,",
        "organic,,,2.0,0.0,1.0,20.0000,,,,,,0.5,10.0,20.0,,,,,,,,",
        "google,0,1,1.0,1.0,0.0,0.0000,,4.0000,,,1.0,0.0,0.0,,4.0,0.0,0.0,,,,,",
    ]
    series = get("/api/analytics/series.csv", scenario, interval="day")
    rows = b"".join(series.streaming_content).decode().splitlines()
    assert rows == [
        "start,totalEvents,dau,installs,organicInstalls,nonOrganicInstalls,reattributions,reengagements,"
        "revenue,revenueUnconverted",
        f"{scenario['day']},8,5,5,2,3,0,0,17.5000,SEK 3.0000",
        f"{scenario['day'] + dt.timedelta(days=1)},1,1,0,0,0,0,0,20.0000,",
    ]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/analytics/campaigns", "&level=region", "level"),
        ("/api/analytics/campaigns", "&country=de", "country"),
        ("/api/analytics/overview", "&date_to=", "date_to"),
        ("/api/analytics/series", "&interval=minute", "interval"),
    ],
)
def test_bad_filters_are_a_400_naming_them(path, params, field):
    reader = UserFactory(role="user")
    app, _ = app_with_key()
    grant(reader, app, "view_app", "view_analytics")
    query = f"app_id={app.id}&date_from=2026-11-01{'' if field == 'date_to' else '&date_to=2026-11-02'}{params}"
    response = APIClient().get(f"{path}?{query}", **bearer(reader))
    assert response.status_code == 400
    assert field in str(response.json())


def test_the_series_refuses_what_activity_does_not_carry_and_long_hourly_ranges():
    reader = UserFactory(role="user")
    app, _ = app_with_key()
    grant(reader, app, "view_app", "view_analytics")
    base = f"/api/analytics/series?app_id={app.id}"
    by_source = APIClient().get(f"{base}&media_source=meta", **bearer(reader))
    assert by_source.status_code == 400 and "media source" in by_source.json()["error"]
    hourly = APIClient().get(f"{base}&interval=hour&days=90", **bearer(reader))
    assert hourly.status_code == 400 and "31 days" in hourly.json()["error"]


def test_the_scenarios_answers_have_the_documented_shapes(scenario, client):
    from tests.test_openapi import _documented_response_schema, validator

    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path, params in (
        ("/api/analytics/campaigns", {"level": "ad"}),
        ("/api/analytics/campaigns", {"level": "campaign", "platform": "ios"}),
        ("/api/analytics/overview", {}),
        ("/api/analytics/series", {"interval": "hour"}),
    ):
        body = get(path, scenario, **params).json()
        documented = _documented_response_schema(schema, "GET", path, 200)
        errors = [error.message for error in validator(schema, documented, strict=True).iter_errors(body)]
        assert errors == [], path
    csv_answer = schema["paths"]["/api/analytics/campaigns.csv"]["get"]["responses"]["200"]["content"]
    assert list(csv_answer) == ["text/csv"]


def test_the_series_reports_reattributions_among_installs_and_reengagements_apart(store_all):
    """devA installed five days before D and again on D, after a one-day re-attribution window: a new
    install. devB installed on D and again two hours later after a retargeting click, inside the
    window: a re-attribution, no install. devR installed ten days before D and came back on D through a
    retargeting click, after the seven-day inactivity window: a re-engagement, no install."""
    from apps_registry import services as app_services

    app, raw_key = app_with_key()
    reader = UserFactory(role="user")
    grant(reader, app, "view_app", "view_analytics")
    app_services.settings_update(app=app, changed_by=reader, reattribution_window_days=1)
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    code = links.link_create(
        app=app, created_by=reader, name="r", media_source="retarget", campaign="back", ios_url="https://example.com/"
    ).code
    clicks = [
        {
            "type": "click",
            "link_code": code,
            "device_ids": {"idfa": device},
            "timestamp": (noon - dt.timedelta(hours=1)).isoformat(),
        }
        for device in ("DEVR", "DEVB")
    ]
    answer = APIClient().post(
        "/api/touchpoints",
        orjson.dumps({"touchpoints": clicks}),
        content_type="application/json",
        HTTP_X_API_KEY=raw_key,
    )
    assert answer.status_code == 202, answer.content

    def event(name, device, at):
        return {"event_name": name, "timestamp": at.isoformat(), "device_ids": {"idfa": device}}

    days = dt.timedelta(days=1)
    events = [
        event("install", "DEVA", noon - 5 * days),
        event("install", "DEVA", noon),
        event("install", "DEVB", noon - 2 * dt.timedelta(hours=1)),
        event("install", "DEVB", noon),
        event("install", "DEVR", noon - 10 * days),
        event("open", "DEVR", noon),
    ]
    assert post_events(raw_key, events).status_code == 202
    store_all(until=lambda: count("events", app.id) >= 6 and count("touchpoints", app.id) >= 2)
    services.attribution_run(app=app, since=noon - 11 * days, until=noon + days)
    answer = (
        APIClient().get(f"/api/analytics/series?app_id={app.id}&date_from={day}&date_to={day}", **bearer(reader)).json()
    )
    (point,) = answer["points"]
    assert (point["totalEvents"], point["installs"], point["reattributions"], point["reengagements"]) == (4, 2, 1, 1)


def test_the_organic_rows_count_no_touches_unless_a_link_names_its_source_organic():
    """Organic installs had no touch: their impressions and clicks are null, as their cost. A link whose
    source is named "organic" has touches: they are shown, so that the rows still add up to the total."""
    from apps_registry.models import App
    from dashboard.analytics import _levels

    app = App(currency="USD")
    installs = [("organic", "", "", "", 2.0, 0.0, 0.0), ("meta", "spring", "", "", 1.0, 1.0, 0.0)]
    touches = [("meta", "spring", "", "", 5, 3)]
    rows = _levels(app, ("source", None), installs=installs, revenue=[], touches=touches, spend=None)
    assert [(r["mediaSource"], r["impressions"], r["clicks"]) for r in rows["source"]] == [
        ("organic", None, None),
        ("meta", 5, 3),
    ]
    assert (rows[None][0]["impressions"], rows[None][0]["clicks"]) == (5, 3)

    named = _levels(
        app, ("source",), installs=installs, revenue=[], touches=[*touches, ("organic", "", "", "", 0, 4)], spend=None
    )
    assert [(r["mediaSource"], r["clicks"]) for r in named["source"]] == [("organic", 4), ("meta", 3)]
