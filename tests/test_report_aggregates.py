"""The reports' hourly pre-aggregates (``events_activity``, ``events_people``, ``touches_hourly``:
dashboard/aggregates.py) give the numbers of the raw events and touches: each report run both ways on
the same data (``REPORT_AGGREGATES`` on and off), with periods whose ends fall inside an hour, in a
whole-hour zone, a DST zone and a half-hour zone; under a retried insert and a consumer killed between
its insert and its commit; and after the rebuild command. The attribution reports read the latest run's
rows: they follow a recompute."""

import datetime as dt
import decimal
import threading
import uuid
import zoneinfo

import orjson
import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from apps_registry import links
from core import clickhouse
from dashboard import aggregates, analytics, selectors
from dashboard.filters import report_filters
from events.attribution_engine import services
from events.bus.outbox import OutboxBus
from events.bus.topics import EVENTS
from events.models import OutboxMessage
from tests.attribution_data import TOUCH_COLUMNS, touch_rows
from tests.factories import UserFactory
from tests.ingestion import app_with_key, count, post_events
from tests.test_consumer import consumer, message, row

pytestmark = pytest.mark.django_db

NAMES = ("session_start", "purchase", "level_up")


def generated(app_id: uuid.UUID, now: dt.datetime, n: int = 240) -> list[dict]:
    """Events every 37 minutes back from ``now`` (so period ends fall inside hours), on two platforms,
    three countries, purchases in two currencies; every 19th event carries no device id (a person is
    then its user id)."""
    rows = []
    for k in range(n):
        name = NAMES[k % 3]
        device = f"d{k % 17}" if k % 19 else ""
        rows.append(
            row(
                app_id,
                event_name=name,
                timestamp=now - dt.timedelta(minutes=37 * k + 1),
                received_at=now,
                platform=("ios", "android")[k % 2],
                country=("US", "DE", "IN")[k % 3 if name != "purchase" else (k // 3) % 3],
                device_id=device,
                device_ids={"idfa": device} if device else {},
                user_id=f"u{k % 13}",
                revenue=decimal.Decimal(f"{k % 5}.25") if name == "purchase" else decimal.Decimal(0),
                currency=("USD", "EUR")[k % 2] if name == "purchase" else "",
            )
        )
    return rows


def generated_touches(app_id: uuid.UUID, now: dt.datetime, n: int = 150) -> list[dict]:
    """Clicks and impressions every 41 minutes back from ``now``, on two platforms, of two sources, their
    campaigns and ads."""
    rows = touch_rows(
        app_id,
        [
            {
                "type": ("click", "impression", "impression")[k % 3],
                "at": now - dt.timedelta(minutes=41 * k + 2),
                "source": ("meta", "google")[k % 2],
                "campaign": f"c{k % 3}",
                "device_ids": {"idfa": f"d{k % 17}"},
            }
            for k in range(n)
        ],
    )
    return [
        {**r, "platform": ("ios", "android")[k % 4 // 2], "adset": f"s{k % 5}", "ad": f"a{k % 7}"}
        for k, r in enumerate(rows)
    ]


def store_touches(rows: list[dict]) -> None:
    clickhouse.insert("touchpoints", rows, columns=(*TOUCH_COLUMNS, "platform", "adset", "ad"), tag="test_touches")


def store(rows: list[dict]) -> None:
    bus = OutboxBus(lease_seconds=30)
    bus.publish(EVENTS, [message(*rows[i : i + 40]) for i in range(0, len(rows), 40)])
    assert consumer(bus).drain(max_seconds=30) >= 1


@pytest.fixture(autouse=True)
def empty_bus():
    OutboxMessage.objects.filter(topic=EVENTS).delete()


def reports(app, filters) -> dict:
    out = {
        "campaigns": analytics.performance(app=app, filters=filters, levels=("source", "campaign", "adset", "ad", None))
    }
    if filters.media_source or filters.campaign:
        return out  # the activity carries no media source or campaign
    out |= {
        "activity": analytics.activity(app=app, filters=filters),
        "overview": analytics.overview(app=app, filters=filters),
        "series day": analytics.series(app=app, filters=filters, interval="day"),
        "series week": analytics.series(app=app, filters=filters, interval="week"),
        "stats": selectors.dashboard_stats(app_id=app.id, since=filters.since, until=filters.until),
        "events over time": selectors.events_over_time(app_id=app.id, since=filters.since, until=filters.until),
    }
    if filters.until - filters.since <= dt.timedelta(days=analytics.MAX_HOURLY_DAYS):
        out["series hour"] = analytics.series(app=app, filters=filters, interval="hour")
    return out


def differing(app_id: uuid.UUID) -> dict[str, list[int]]:
    """The app's months that differ (other tests leave hours of theirs differing, as a crash would)."""
    return {hourly.table: aggregates.differing_months(hourly, app_id) for hourly in aggregates.HOURLY}


NOTHING_DIFFERS = {hourly.table: [] for hourly in aggregates.HOURLY}


def both_ways(app, filters, settings) -> tuple[dict, dict]:
    settings.REPORT_AGGREGATES = True
    pre = reports(app, filters)
    settings.REPORT_AGGREGATES = False
    raw = reports(app, filters)
    settings.REPORT_AGGREGATES = True
    return pre, raw


def in_period(rows: list[dict], filters, **segment) -> list[dict]:
    return [
        r
        for r in rows
        if filters.since <= r["timestamp"] < filters.until and all(r[k] == v for k, v in segment.items())
    ]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "Asia/Kolkata"])
def test_every_activity_report_gives_the_raw_tables_numbers_from_the_aggregate(zone, settings):
    app, _ = app_with_key(timezone=zone, currency="USD")
    rows = generated(app.id, timezone.now())
    store(rows)
    touches = generated_touches(app.id, timezone.now())
    store_touches(touches)
    assert differing(app.id) == NOTHING_DIFFERS
    periods = ({"days": "1"}, {"days": "7"}, {"days": "7", "platform": "ios", "country": "US"})
    for data in (*periods, {"days": "7", "platform": "android", "media_source": "meta", "campaign": "c1"}):
        filters = report_filters(data=data, default_model="last_touch", time_zone=zone)
        pre, raw = both_ways(app, filters, settings)
        assert pre == raw, data
        clicks = [
            t
            for t in touches
            if t["touch_type"] == "click"
            and filters.since <= t["timestamp"] < filters.until
            and all(t[k] == v for k, v in data.items() if k in ("platform", "media_source", "campaign"))
        ]
        total = pre["campaigns"][None][0]
        assert total["clicks"] == (None if filters.country else len(clicks)), data
        if filters.media_source:
            continue  # the activity carries no media source or campaign
        segment = {k: v for k, v in data.items() if k in ("platform", "country")}
        expected = in_period(rows, filters, **segment)
        assert pre["activity"]["totalEvents"] == len(expected) > 0
        assert sum(point["totalEvents"] for point in pre["series day"]) == len(expected)
        people = {r["device_id"] or r["user_id"] for r in expected}
        assert pre["activity"]["activeUsers"] == len(people) > len({r["device_id"] for r in expected} - {""})
        people_per_day = {
            (r["timestamp"].astimezone(zoneinfo.ZoneInfo(zone)).date(), r["device_id"] or r["user_id"])
            for r in expected
        }
        assert sum(point["dau"] for point in pre["series day"]) == len(people_per_day)
        everyone = in_period(rows, filters)
        buyers = {r["user_id"] for r in everyone if r["event_name"] == "purchase"}
        assert (pre["stats"]["activeUsers"], pre["stats"]["conversionRate"]) == (
            len({r["user_id"] for r in everyone}),
            round(len(buyers) / len({r["user_id"] for r in everyone}), 4),
        )
    # The whole hours were read from the aggregate where the zone allows it.
    first, last = aggregates._middle(filters.since, filters.until, zone)
    assert (last > first) == (zone != "Asia/Kolkata")


def test_a_retried_insert_and_a_redelivered_batch_count_once_in_the_aggregate(app_id, settings):
    now = timezone.now()
    rows = generated(app_id, now, n=90)
    short_lease = OutboxBus(lease_seconds=0.05)
    short_lease.publish(EVENTS, [message(*rows[i : i + 30]) for i in range(0, 90, 30)])
    killed = consumer(short_lease)
    batch = killed.writer.prepare(killed.subscription.poll(2, timeout=0))
    killed.writer.write(batch)  # stored, never committed: the batch comes again
    for month in set(batch.months):  # and ClickHouse timed out after storing: the same inserts sent again
        killed.writer._insert(batch, [i for i, m in enumerate(batch.months) if m == month], [])
    assert (
        clickhouse.execute(
            "SELECT sum(events) FROM events_activity WHERE app_id = {a:UUID}", {"a": app_id}, tag="test"
        ).scalar()
        == 60
    )
    assert differing(app_id) == NOTHING_DIFFERS  # the people of the same rows, the repeated ones once
    threading.Event().wait(0.1)  # the dead consumer's lease runs out
    assert consumer(OutboxBus(lease_seconds=30)).drain(max_seconds=30) == 3

    totals = clickhouse.execute(
        "SELECT sum(events), sum(revenue) FROM events_activity WHERE app_id = {a:UUID}", {"a": app_id}, tag="test"
    ).rows[0]
    assert totals == (90, sum(r["revenue"] for r in rows))
    assert differing(app_id) == NOTHING_DIFFERS

    touches = generated_touches(app_id, now, n=30)
    for _ in range(2):  # a retried insert of clicks and impressions: the same rows under the same token
        clickhouse.insert(
            "touchpoints",
            touches,
            columns=(*TOUCH_COLUMNS, "platform", "adset", "ad"),
            tag="test_touches",
            deduplication_token=f"touches-{app_id}",
        )
    counted = clickhouse.execute(
        "SELECT sum(touches) FROM touches_hourly WHERE app_id = {a:UUID}", {"a": app_id}, tag="test"
    ).scalar()
    assert counted == 30
    assert differing(app_id) == NOTHING_DIFFERS


def test_the_rebuild_command_repairs_an_hour_a_crash_left_short(app_id):
    now = timezone.now()
    store(generated(app_id, now, n=60))
    store_touches(generated_touches(app_id, now, n=40))
    people = clickhouse.execute(
        "SELECT count() FROM events_people FINAL WHERE app_id = {a:UUID}", {"a": app_id}, tag="test"
    ).scalar()
    lost = {}
    for hourly in aggregates.HOURLY:  # what a process killed between the raw part and the views' part leaves
        hour = clickhouse.execute(
            f"SELECT max(hour) FROM {hourly.table} WHERE app_id = {{a:UUID}}", {"a": app_id}, tag="test"
        ).scalar()
        clickhouse.execute(
            f"DELETE FROM {hourly.table} WHERE app_id = {{a:UUID}} AND hour = {{h:DateTime64(3, 'UTC')}}",
            {"a": app_id, "h": hour},
            tag="test.lose_hour",
        )
        lost[hourly.table] = [hour.year * 100 + hour.month]
    assert differing(app_id) == lost

    call_command("rebuild_report_aggregates", "--check")
    assert differing(app_id) == NOTHING_DIFFERS
    totals = (
        clickhouse.execute("SELECT sum(events) FROM events_activity WHERE app_id = {a:UUID}", {"a": app_id}, tag="t"),
        clickhouse.execute("SELECT count() FROM events_people FINAL WHERE app_id = {a:UUID}", {"a": app_id}, tag="t"),
        clickhouse.execute("SELECT sum(touches) FROM touches_hourly WHERE app_id = {a:UUID}", {"a": app_id}, tag="t"),
    )
    assert [total.scalar() for total in totals] == [60, people, 40]
    call_command("rebuild_report_aggregates")  # every month again: the same numbers
    assert differing(app_id) == NOTHING_DIFFERS


@pytest.mark.django_db(transaction=True)
def test_the_attribution_reports_follow_a_recompute(store_all, settings):
    """Installs and their revenue are read from the latest run's rows: a click that arrived after the
    first run moves the install and its purchase from organic to its source once the period is
    recomputed, the same both ways."""
    app, raw_key = app_with_key(timezone="UTC", currency="USD")
    now = timezone.now().replace(microsecond=0)
    t0 = now - dt.timedelta(hours=5)
    events = [
        {"event_name": "install", "timestamp": t0.isoformat(), "device_ids": {"idfa": "R1"}, "user_id": "R1"},
        {
            "event_name": "purchase",
            "timestamp": (t0 + dt.timedelta(hours=1)).isoformat(),
            "device_ids": {"idfa": "R1"},
            "user_id": "R1",
            "revenue": 7,
            "currency": "USD",
        },
    ]
    assert post_events(raw_key, events).status_code == 202
    store_all(until=lambda: count("events", app.id) >= 2)
    since, until = t0 - dt.timedelta(days=1), now
    services.attribution_run(app=app, since=since, until=until)
    # the install's day to today: five hours ago is yesterday in the first five hours of a day
    period = {"date_from": t0.date().isoformat(), "date_to": now.date().isoformat()}
    filters = report_filters(data=period, default_model="last_touch", time_zone="UTC")

    def by_source() -> dict:
        pre = analytics.performance(app=app, filters=filters, levels=("source",))["source"]
        settings.REPORT_AGGREGATES = False
        raw = analytics.performance(app=app, filters=filters, levels=("source",))["source"]
        settings.REPORT_AGGREGATES = True
        assert pre == raw
        return {r["mediaSource"]: (r["installs"], r["revenue"]["amount"]) for r in pre}

    assert by_source() == {"organic": (1.0, "7.0000")}

    code = links.link_create(
        app=app,
        created_by=UserFactory(),
        name="meta",
        media_source="meta",
        campaign="late",
        ios_url="https://apps.apple.com/app/id1",
    ).code
    touch = {
        "type": "click",
        "link_code": code,
        "device_ids": {"idfa": "R1"},
        "timestamp": (t0 - dt.timedelta(hours=1)).isoformat(),
    }
    answer = APIClient().post(
        "/api/touchpoints",
        orjson.dumps({"touchpoints": [touch]}),
        content_type="application/json",
        HTTP_X_API_KEY=raw_key,
    )
    assert answer.status_code == 202, answer.content
    store_all(until=lambda: count("touchpoints", app.id) >= 1)
    services.attribution_run(app=app, since=since, until=until, recompute=True)
    assert by_source() == {"meta": (1.0, "7.0000")}
