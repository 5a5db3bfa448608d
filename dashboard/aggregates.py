"""The pre-aggregates the reports read, and their rebuild from raw data.

``events_activity`` (ClickHouse migration 0041): events and revenue per app, UTC hour, event name,
platform, country and currency, filled by a materialized view on every insert into ``events``. A
report over [since, until) reads the whole UTC hours inside the period from it and the two partial
hours at its ends from ``events FINAL`` (``activity_source``), so its numbers are those of the raw
table whatever the period's edges. An hour of UTC is an hour of the app's time zone only where the
zone's offset is whole hours: for a zone such as Asia/Kolkata (+5:30) the whole period is read raw.
Distinct users and devices are not in it (an aggregate of them would hold identifiers): reports
count them from ``events`` without FINAL, which a repeated row does not change.

``settings.REPORT_AGGREGATES`` off makes every report read raw data: the tests compare both ways.
"""

import datetime as dt
import zoneinfo
from collections.abc import Callable

from django.conf import settings

from core import clickhouse
from core.clickhouse import topology

ACTIVITY_COLUMNS = "app_id, hour, event_name, platform, country, currency, events, revenue"
_ACTIVITY_SELECT = """
SELECT app_id, toStartOfHour(timestamp) AS hour, event_name, platform, country, currency,
       toUInt64(count()) AS events, sum(toDecimal128(revenue, 6)) AS revenue
FROM events FINAL
WHERE {where}
GROUP BY app_id, hour, event_name, platform, country, currency
"""


def _whole_hours(time_zone: str, since: dt.datetime, until: dt.datetime) -> bool:
    """Whether every offset of the zone over the period (checked at each day's start and the ends) is
    whole hours, so that UTC hours are the zone's hours."""
    zone = zoneinfo.ZoneInfo(time_zone)
    moment = since
    while moment < until + dt.timedelta(days=1):
        offset = zone.utcoffset(min(moment, until).astimezone(zone).replace(tzinfo=None))
        if offset is None or offset.total_seconds() % 3600:
            return False
        moment += dt.timedelta(days=1)
    return True


def _middle(since: dt.datetime, until: dt.datetime, time_zone: str) -> tuple[dt.datetime, dt.datetime]:
    """The whole UTC hours inside [since, until) the aggregate answers for; an empty span (since,
    since) when it cannot or must not."""
    first = since.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    if first < since:
        first += dt.timedelta(hours=1)
    last = until.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    if not settings.REPORT_AGGREGATES or first >= last or not _whole_hours(time_zone, since, until):
        return since, since
    return first, last


def activity_source(*, since: dt.datetime, until: dt.datetime, time_zone: str, segment: str = "") -> tuple[str, dict]:
    """A subquery of the app's activity in [since, until) as rows of (timestamp, event_name, platform,
    country, currency, events, revenue): whole hours from ``events_activity`` (``timestamp`` the hour's
    start), the rest from ``events FINAL`` (one row per event). Sum ``events`` to count events; group
    by a bucket of ``timestamp`` no finer than an hour. ``segment``: more conditions on the dimension
    columns (`` AND platform = ...``). Takes ``{app_id:UUID}``; its other parameters are returned."""
    first, last = _middle(since, until, time_zone)
    sql = f"""(
    SELECT hour AS timestamp, event_name, platform, country, currency, events, revenue
    FROM events_activity
    WHERE app_id = {{app_id:UUID}} AND hour >= {{activity_from:DateTime64(3, 'UTC')}}
      AND hour < {{activity_to:DateTime64(3, 'UTC')}}{segment}
    UNION ALL
    SELECT timestamp, event_name, platform, country, currency, toUInt64(1) AS events,
           toDecimal128(revenue, 6) AS revenue
    FROM events FINAL
    WHERE app_id = {{app_id:UUID}}
      AND ((timestamp >= {{activity_since:DateTime64(3, 'UTC')}}
            AND timestamp < {{activity_from:DateTime64(3, 'UTC')}})
        OR (timestamp >= {{activity_to:DateTime64(3, 'UTC')}}
            AND timestamp < {{activity_until:DateTime64(3, 'UTC')}})){segment}
)"""
    return sql, {"activity_since": since, "activity_from": first, "activity_to": last, "activity_until": until}


def _months(where: str = "1", params: dict | None = None) -> list[int]:
    return [
        month
        for (month,) in clickhouse.execute(
            f"SELECT DISTINCT toYYYYMM(timestamp) AS month FROM events WHERE {where} ORDER BY month",
            params or {},
            tag="aggregates.months",
        ).rows
    ]


def rebuild_activity_month(month: int) -> None:
    """Replace the month's rows of ``events_activity`` with those computed from ``events FINAL``. Stop
    the consumers first: rows inserted while this runs may be counted twice or not at all."""
    clickhouse.execute(
        f"ALTER TABLE {topology.mutated('events_activity')} DROP PARTITION {{month:UInt32}}",
        {"month": month},
        tag="aggregates.drop_month",
    )
    clickhouse.execute(
        f"INSERT INTO events_activity ({ACTIVITY_COLUMNS}) "
        + _ACTIVITY_SELECT.format(where="toYYYYMM(timestamp) = {month:UInt32}"),
        {"month": month},
        tag="aggregates.rebuild_month",
        timeout=3600,
    )


def differing_activity_months() -> list[int]:
    """The months whose events per app and hour in ``events_activity`` differ from ``events FINAL``."""
    return [
        month
        for (month,) in clickhouse.execute(
            """
            SELECT DISTINCT toYYYYMM(greatest(raw.hour, aggregated.hour)) AS month FROM (
                SELECT app_id, toStartOfHour(timestamp) AS hour, toUInt64(count()) AS events
                FROM events FINAL GROUP BY app_id, hour
            ) AS raw
            FULL OUTER JOIN (
                SELECT app_id, hour, sum(events) AS events FROM events_activity GROUP BY app_id, hour
            ) AS aggregated ON raw.app_id = aggregated.app_id AND raw.hour = aggregated.hour
            WHERE raw.events != aggregated.events  -- a side without the hour reads 0 and the epoch
            ORDER BY month
            """,
            tag="aggregates.check",
            timeout=3600,
        ).rows
    ]


def rebuild_activity(*, check: bool = False, progress: Callable[[int], None] | None = None) -> list[int]:
    """Rebuild ``events_activity`` from ``events``: every month with events (and none left over), or
    with ``check`` only the months that differ. Returns the months rebuilt."""
    if check:
        months = differing_activity_months()
    else:
        months = sorted(
            set(_months())
            | {
                month
                for (month,) in clickhouse.execute(
                    "SELECT DISTINCT toYYYYMM(hour) FROM events_activity", tag="aggregates.months"
                ).rows
            }
        )
    for month in months:
        rebuild_activity_month(month)
        if progress:
            progress(month)
    return months
