"""The attribution side's pre-aggregate (``dashboard/attributed_daily.py``) gives the raw tables'
numbers: the campaign report at every level (with its cohort columns), the overview, the model
comparison and the retention cohorts (by day and week, every split), read both ways
(``REPORT_AGGREGATES`` on and off) on the demo's data (New York and Berlin, multi-touch paths,
retargeting, purchases in two currencies), for preset periods (partial days at both ends) and date
ranges, under every filter, whether the refresh wrote the history in one span or in many; and still
after what arrived since the refresh (a late session, a late purchase, a recompute of past
conversions), before and after the next refresh; and with the line at the start of an hour of the
last two days (rows per hour there), in a time zone half an hour off UTC too."""

import datetime as dt
import decimal
import io
import itertools
import math
import time
import uuid
import zoneinfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from apps_registry.models import App
from core import backups, clickhouse
from dashboard import analytics, attributed_daily, cohorts
from dashboard.credits import ORGANIC
from dashboard.filters import report_filters
from dashboard.models import ReportRefresh
from events.attribution_engine import services
from events.bus.outbox import OutboxBus
from events.bus.topics import EVENTS
from tests.factories import AppFactory, UserFactory
from tests.ingestion import app_with_key
from tests.test_consumer import consumer, message, row

pytestmark = pytest.mark.django_db(transaction=True)

LEVELS = ("source", "campaign", "adset", "ad", None)


def close(a, b, path="") -> None:
    """Equal, but for the last digits of sums taken in another order: the reports round to 6 decimals, so
    two sums a hair apart can round one unit of the last decimal apart (0.416666 and 0.416667)."""
    assert type(a) is type(b), (path, a, b)
    if isinstance(a, dict):
        assert a.keys() == b.keys(), (path, a.keys() ^ b.keys())
        for key in a:
            close(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), (path, len(a), len(b))
        for n, (x, y) in enumerate(zip(a, b, strict=True)):
            close(x, y, f"{path}[{n}]")
    elif isinstance(a, float):
        assert math.isclose(a, b, rel_tol=1e-6, abs_tol=1.5e-6), (path, a, b)
    elif isinstance(a, str) and a.replace(".", "", 1).lstrip("-").isdigit():
        assert abs(decimal.Decimal(a) - decimal.Decimal(b)) <= decimal.Decimal("0.0002"), (path, a, b)
    else:
        assert a == b, (path, a, b)


def reports(app: App, filters) -> dict:
    return {
        "campaigns": analytics.performance(app=app, filters=filters, levels=LEVELS),
        "overview": analytics.overview(app=app, filters=filters),
        "models": analytics.model_comparison(app=app, filters=filters),
        "campaign cohorts": cohorts.campaign_performance(app=app, filters=filters, levels=LEVELS),
        "retention": {
            (granularity, split): cohorts.retention(app=app, filters=filters, granularity=granularity, split=split)
            for granularity in cohorts.GRANULARITIES
            for split in cohorts.SPLITS
        },
        "ltv": cohorts.ltv_curves(app=app, filters=filters, granularity="week", split="source", horizon=30),
        # The active users per day and week (people_seen for the rows before the line).
        "series": {
            interval: analytics.series(app=app, filters=filters, interval=interval)
            for interval in ("day", "week")
            if not (filters.media_source or filters.campaign)
        },
    }


def cohorts_covered(app: App, filters) -> bool:
    return cohorts._covered(app, filters) is not None


def both_ways(app: App, filters, settings) -> dict:
    settings.REPORT_AGGREGATES = True
    pre = reports(app, filters)
    settings.REPORT_AGGREGATES = False
    raw = reports(app, filters)
    settings.REPORT_AGGREGATES = True
    close(pre, raw)
    return pre


def filters_of(app: App, **data):
    return report_filters(data=data, default_model="last_touch", time_zone=app.timezone)


def total(answer: dict) -> tuple[float, str]:
    overall = answer["campaigns"][None][0]
    return overall["installs"], overall["revenue"]["amount"]


@pytest.fixture(autouse=True)
def no_margin(settings):
    """Writes are noted to the second: a refresh a second after the last write has seen it."""
    settings.REPORT_CHANGES_MARGIN_SECONDS = 0


def demo(settings, **options) -> None:
    # With Kafka (the services run), the demo's drain reads with consumer groups of this test's own.
    settings.KAFKA_CONSUMER_GROUP_PREFIX = f"test-{uuid.uuid4().hex}"
    UserFactory(role="admin", is_superuser=True)
    call_command("seed_demo", stdout=io.StringIO(), **options)
    time.sleep(1.1)


def arrives_late(app: App, device: str, at: dt.datetime, event_name: str, **fields) -> None:
    """An event of ``device`` at ``at``, consumed now."""
    fields = {"device_id": device, "device_ids": {}, "user_id": "", **fields}
    row_ = row(app.id, event_name=event_name, timestamp=at, received_at=timezone.now(), **fields)
    bus = OutboxBus(lease_seconds=30)
    bus.publish(EVENTS, [message(row_)])
    assert consumer(bus).drain(max_seconds=30) >= 1


def installed_between(app: App, since: dt.datetime, until: dt.datetime) -> str:
    """The device of a new install of the app in [since, until)."""
    return clickhouse.execute(
        "SELECT device_key FROM attributions FINAL WHERE app_id = {app:UUID} AND conversion_kind = 'install' "
        "AND conversion_time >= {since:DateTime64(3, 'UTC')} AND conversion_time < {until:DateTime64(3, 'UTC')} "
        "ORDER BY conversion_time LIMIT 1",
        {"app": app.id, "since": since, "until": until},
        tag="test.attributed_daily",
    ).rows[0][0]


def test_the_pre_aggregate_gives_the_raw_numbers_and_follows_what_arrives_after_it(settings):
    demo(settings, installs=120, days=60)
    apps = list(App.objects.order_by("name"))
    assert len(apps) == 2
    # The second app's refresh writes its history in one span, the first's (here and below) in many.
    assert len(attributed_daily._spans(apps[1])) == 1
    attributed_daily.refresh(apps[1])
    settings.REPORT_REFRESH_SPAN_CONVERSIONS = 10
    spans = attributed_daily._spans(apps[0])
    assert len(spans) > 5 and spans[0][0] == attributed_daily.EPOCH and spans[-1][1] == attributed_daily.FAR
    assert all(until == since for (_, until), (since, _) in itertools.pairwise(spans))
    attributed_daily.refresh(apps[0])
    assert not any(attributed_daily.refresh_due(app) for app in apps)

    for app in apps:
        today = timezone.now().astimezone(zoneinfo.ZoneInfo(app.timezone)).date()
        source = analytics.performance(app=app, filters=filters_of(app, days="90"), levels=("campaign",))["campaign"]
        paid = next(r for r in source if r["mediaSource"] != ORGANIC)
        cases = [
            {"days": "30"},
            {"days": "90", "model": "linear"},
            {"days": "7", "model": "position_based"},
            {
                "date_from": (today - dt.timedelta(days=40)).isoformat(),
                "date_to": (today - dt.timedelta(days=20)).isoformat(),
            },
            {"days": "30", "platform": "ios"},
            {"days": "30", "country": "US", "model": "first_touch"},
            {"days": "30", "platform": "android", "country": "DE"},
            {"days": "30", "media_source": paid["mediaSource"]},
            {"days": "30", "media_source": paid["mediaSource"], "campaign": paid["campaign"], "model": "data_driven"},
        ]
        for data in cases:
            filters = filters_of(app, **data)
            covered = attributed_daily.coverage(app, filters)
            assert covered is not None and (covered.end_day - covered.first_day).days >= 5, data
            assert cohorts_covered(app, filters), data
            assert "date_from" in data or attributed_daily.people_coverage(app, filters) is not None, data
            both_ways(app, filters, settings)

    # What arrives after the refresh: a session, then a purchase, of 20 days ago by a device installed before it.
    app = apps[0]
    month = filters_of(app, days="30")
    before = both_ways(app, month, settings)
    covered_before = attributed_daily.coverage(app, month)
    late = timezone.now() - dt.timedelta(days=20)
    device = installed_between(app, timezone.now() - dt.timedelta(days=29), timezone.now() - dt.timedelta(days=25))

    arrives_late(app, device, late, "session_start")
    # Activity moves retention's line back, not the campaign report's.
    assert attributed_daily.coverage(app, month).end_day == covered_before.end_day
    assert attributed_daily.coverage(app, month, activity=True).end_day < covered_before.end_day
    assert not cohorts_covered(app, month)
    assert attributed_daily.people_coverage(app, month).until <= late
    both_ways(app, month, settings)
    arrives_late(app, device, late, "purchase", revenue=decimal.Decimal("1000.50"), currency="EUR")
    covered = attributed_daily.coverage(app, month)
    assert covered.end_day < covered_before.end_day
    after = both_ways(app, month, settings)
    assert decimal.Decimal(total(after)[1]) > decimal.Decimal(total(before)[1]) + 900
    assert attributed_daily.refresh_due(app)

    # A recompute of days that the pre-aggregate holds.
    since = timezone.now() - dt.timedelta(days=12)
    services.attribution_run(app=app, since=since, until=since + dt.timedelta(days=2), recompute=True)
    assert attributed_daily.coverage(app, month).end_day <= covered.end_day
    recomputed = both_ways(app, month, settings)  # the recompute decided new data-driven weights

    # The next refresh holds it all again (writes are noted to the second: one a second before it).
    time.sleep(1.1)
    attributed_daily.refresh(app)
    assert attributed_daily.coverage(app, month).end_day == covered_before.end_day
    assert cohorts_covered(app, month)
    close(both_ways(app, month, settings), recomputed)

    # A refresh of days ago with nothing written since holds everything up to today.
    ReportRefresh.objects.filter(app=app).update(started_at=timezone.now() - dt.timedelta(days=3))
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(app.timezone)).date()
    assert attributed_daily.coverage(app, month, activity=True).fresh_day == today
    assert cohorts_covered(app, month)
    close(both_ways(app, month, settings), recomputed)


def test_the_line_falls_at_the_start_of_an_hour_of_the_last_two_days(settings):
    demo(settings, installs=150, days=3)
    app = App.objects.order_by("name").first()
    # Half an hour off UTC: the app's hours, which the rows of the last two days are, are not UTC's.
    app.timezone = "Asia/Kolkata"
    app.save(update_fields=["timezone"])
    attributed_daily.refresh(app)
    zone = zoneinfo.ZoneInfo(app.timezone)
    yesterday = timezone.now().astimezone(zone).date() - dt.timedelta(days=1)
    hour = dt.datetime.combine(yesterday, dt.time(12), tzinfo=zone).astimezone(dt.UTC)
    week = filters_of(app, days="7")
    before = both_ways(app, week, settings)

    # A purchase of yesterday at 12:40 arrives: the line is 12:00, the rows of the hours before it are read.
    device = installed_between(app, hour - dt.timedelta(days=1), hour)
    arrives_late(
        app, device, hour + dt.timedelta(minutes=40), "purchase", revenue=decimal.Decimal("700"), currency="USD"
    )
    covered = attributed_daily.coverage(app, week)
    assert covered.agg_to == covered.fresh == hour
    after = both_ways(app, week, settings)
    assert decimal.Decimal(total(after)[1]) > decimal.Decimal(total(before)[1]) + 600
    generation = ReportRefresh.objects.get(app=app).generation
    buckets = clickhouse.execute(
        "SELECT conversion_bucket, sum(installs) FROM attributed_installs WHERE app_id = {app:UUID} "
        "AND generation = {generation:UInt64} AND model = 'last_touch' AND day = {day:Date} GROUP BY conversion_bucket",
        {"app": app.id, "generation": generation, "day": yesterday},
        tag="test.attributed_daily",
    ).rows
    # Installs on both sides of the line, in rows of whole hours of the app.
    assert {bucket.astimezone(zone).minute for bucket, _ in buckets} == {0}
    assert any(bucket < hour for bucket, _ in buckets) and any(bucket >= hour for bucket, _ in buckets)


@pytest.mark.parametrize(
    ("zone_name", "day"),
    [
        ("Europe/Berlin", "2024-10-27"),  # an hour repeated
        ("Australia/Lord_Howe", "2024-10-06"),  # half an hour skipped
        ("Pacific/Chatham", "2024-09-29"),  # an hour skipped at 02:45
        ("America/Santiago", "2024-09-08"),  # no midnight
        ("Asia/Kolkata", "2024-10-05"),
    ],
)
def test_the_line_is_the_start_of_a_row_of_the_pre_aggregate(zone_name, day):
    """The line, the start of the row it falls in as ClickHouse names rows, is at or before it and in
    that row (so the rows before it hold only times before it), in order; and a day of the app (as
    reports bound their periods) starts a row."""
    app = App(timezone=zone_name)
    zone = zoneinfo.ZoneInfo(zone_name)
    moments = [
        dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC) + dt.timedelta(minutes=10 * n - 1440) for n in range(432)
    ]
    days = sorted({moment.astimezone(zone).date() for moment in moments})
    day_starts = [attributed_daily._start(local_day, zone) for local_day in days]
    for hourly_from in (attributed_daily.EPOCH, attributed_daily.FAR):  # rows per hour, per day
        starts = attributed_daily._bucket_starts(app, moments, hourly_from)
        assert all(start <= moment for start, moment in zip(starts, moments, strict=True))
        assert attributed_daily._bucket_starts(app, starts, hourly_from) == starts == sorted(starts)
        assert attributed_daily._bucket_starts(app, day_starts, hourly_from) == day_starts


def test_a_refresh_in_another_time_zone_is_not_read(settings):
    demo(settings, installs=40, days=20)
    app = App.objects.order_by("name").first()
    attributed_daily.refresh(app)
    month = filters_of(app, days="14")
    assert attributed_daily.coverage(app, month) is not None
    app.timezone = "Asia/Tokyo" if app.timezone != "Asia/Tokyo" else "UTC"
    app.save(update_fields=["timezone"])
    assert attributed_daily.coverage(app, month) is None
    assert attributed_daily.refresh_due(app)
    attributed_daily.refresh(app)
    assert attributed_daily.coverage(app, month) is not None
    both_ways(app, filters_of(app, days="14"), settings)


def test_the_refresh_command_refreshes_the_apps_that_changed():
    app, _ = app_with_key(timezone="UTC", currency="USD")
    out = io.StringIO()
    call_command("refresh_reports", app=[str(app.id)], stdout=out)
    assert "refreshed (generation" in out.getvalue()
    out = io.StringIO()
    call_command("refresh_reports", app=[str(app.id)], stdout=out)
    assert "unchanged since" in out.getvalue()
    # A refresh of an older layout, which readers skip, is due however little changed since.
    ReportRefresh.objects.filter(app=app).update(layout=attributed_daily.LAYOUT - 1)
    assert attributed_daily.refresh_due(app)
    call_command("refresh_reports", app=[str(app.id)], stdout=out)
    assert ReportRefresh.objects.get(app=app).layout == attributed_daily.LAYOUT
    out = io.StringIO()
    call_command("refresh_reports", app=[str(app.id)], all=True, stdout=out)
    assert "refreshed (generation" in out.getvalue()
    with pytest.raises(CommandError, match="Unknown app id"):
        call_command("refresh_reports", app=[str(app.id), "00000000-0000-0000-0000-000000000000"])


def test_a_refresh_drops_older_generations_and_leaves_a_later_refreshs_rows():
    app, _ = app_with_key(timezone="UTC", currency="USD")
    with_generations = clickhouse.execute(
        "SELECT DISTINCT table FROM system.columns WHERE database = currentDatabase() AND name = 'generation' "
        "AND NOT endsWith(table, '_local')",
        tag="test.attributed_daily",
    ).rows
    assert {table for (table,) in with_generations} == set(attributed_daily.GENERATION_TABLES)
    counted = backups._clickhouse_counts()  # what a backup counts, and its restore checks
    assert "events" in counted and not set(attributed_daily.GENERATION_TABLES) & set(counted)
    first = attributed_daily.refresh(app).generation
    later = first + 10**12  # a refresh that started later, still writing when this one ends
    for table, generation in itertools.product(attributed_daily.GENERATION_TABLES, (first, later)):
        clickhouse.execute(
            f"INSERT INTO {table} (app_id, generation, day) VALUES ({{app:UUID}}, {{generation:UInt64}}, today())",
            {"app": app.id, "generation": generation},
            tag="test.attributed_daily",
        )
    current = attributed_daily.refresh(app).generation
    assert first < current < later
    for table in attributed_daily.GENERATION_TABLES:
        kept = clickhouse.execute(
            f"SELECT DISTINCT generation FROM {table} WHERE app_id = {{app:UUID}} AND generation != {{current:UInt64}}",
            {"app": app.id, "current": current},
            tag="test.attributed_daily",
        ).rows
        assert kept == [(later,)], table


def test_the_distinct_people_are_counted_as_first_rows_under_every_filter(settings):
    """Active users per day, per week and over the period, counted as first rows of ``people_seen`` before
    the line and looked up for the people after it, against sets of the raw events: a person on two
    platforms and in two countries, one without a device, one twice in a day's hours, one new after
    the refresh."""
    app = AppFactory()
    app.timezone = "America/New_York"
    app.save(update_fields=["timezone"])
    zone = zoneinfo.ZoneInfo(app.timezone)
    today = timezone.now().astimezone(zone).date()

    def at(days_ago: int, hour: int) -> dt.datetime:
        return dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(hour), tzinfo=zone).astimezone(dt.UTC)

    def seen(device: str, moment: dt.datetime, platform: str, country: str, user: str = "") -> None:
        arrives_late(app, device, moment, "session_start", platform=platform, country=country, user_id=user)

    seen("dev-a", at(5, 10), "ios", "US", "user-a")
    seen("dev-a", at(4, 10), "android", "US", "user-a")
    seen("dev-a", at(4, 15), "ios", "DE", "user-a")
    seen("dev-a", at(1, 9), "ios", "US", "user-a")  # yesterday: rows per hour
    seen("dev-a", at(1, 14), "ios", "US", "user-a")
    seen("dev-b", at(5, 12), "android", "DE")
    seen("", at(3, 8), "ios", "FR", "user-c")
    time.sleep(1.1)
    attributed_daily.refresh(app)
    # After the refresh: a new person, and two had before (the line moves back to the earliest).
    soon = timezone.now() - dt.timedelta(minutes=20)
    seen("dev-a", soon, "android", "DE", "user-a")
    seen("dev-d", soon, "ios", "US")
    seen("dev-b", soon + dt.timedelta(minutes=5), "android", "DE")

    expected = {  # the people of the last 7 days under each filter, by hand
        (): 4,
        (("platform", "ios"),): 3,
        (("platform", "android"),): 2,
        (("country", "US"),): 2,
        (("country", "DE"),): 2,
        (("platform", "ios"), ("country", "US")): 2,
        (("platform", "android"), ("country", "DE")): 2,
        (("platform", "android"), ("country", "US")): 1,
    }
    for segment, people in expected.items():
        for days in ("7", "30"):
            filters = filters_of(app, days=days, **dict(segment))
            counted = attributed_daily.people_coverage(app, filters)
            assert counted is not None and counted.since < soon and counted.until <= soon, (segment, days)
            for interval in ("day", "week", None):
                settings.REPORT_AGGREGATES = True
                rows = analytics._people(app, filters, interval)
                settings.REPORT_AGGREGATES = False
                sets = analytics._people(app, filters, interval)
                settings.REPORT_AGGREGATES = True
                assert rows == sets, (segment, days, interval)
                assert rows[1] == people, (segment, days, interval)
    # Days before the line, by hand: A and B; A on two platforms; C without a device.
    days = analytics._people(app, filters_of(app, days="7"), "day")[0]
    assert [days[today - dt.timedelta(days=n)] for n in (5, 4, 3)] == [2, 1, 1]
    android = analytics._people(app, filters_of(app, days="7", platform="android"), "day")[0]
    assert [android.get(today - dt.timedelta(days=n), 0) for n in (5, 4, 3)] == [1, 1, 0]
