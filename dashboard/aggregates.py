"""The pre-aggregates the reports read, and their rebuild from raw data.

Three tables per app and UTC hour, each filled by a materialized view on every insert into its raw
table: ``events_activity`` (ClickHouse migration 0041), events and revenue per event name, platform,
country and currency; ``events_people`` (0045), who had an event (device and user id hashes) per
platform, country and whether it was a purchase, over which the distinct users and devices are counted;
``touches_hourly`` (0049, from ``touchpoints``), clicks and impressions per touch type, platform, media
source, campaign, ad set and ad. A report over [since, until) reads the whole UTC hours inside the
period from them and the two partial hours at its ends from the raw table (``activity_source``,
``people_source``, ``touches_source``), so its numbers are those of the raw table whatever the period's
edges. An hour of UTC is an hour of the app's time zone only where the zone's
offset is whole hours: for a zone such as Asia/Kolkata (+5:30) the whole period is read raw.

The activity's distinct people can also be counted, not as sets, over ``people_seen``: each person's
days (hours in the two days before the refresh) with the day of the one before, which the report
refresh writes with its rows' counts (``people_seen_counts``; ``dashboard/attributed_daily.py``,
``people_counts``).

``settings.REPORT_AGGREGATES`` off makes every report read raw data: the tests compare both ways.
"""

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from core import clickhouse
from core.clickhouse import topology

# An ``events_people`` row's columns as computed from an event: the ids' hashes make distinct counts of
# fixed-size keys (the hashes the metrics counted when they read ``events``).
_PERSON = {
    "purchase": "event_name = 'purchase'",
    "device": "if(device_id != '', cityHash64(device_id), 0)",
    "user": "if(user_id != '', cityHash64(user_id), 0)",
}
PERSON_OF_EVENT = ", ".join(f"{expression} AS {name}" for name, expression in _PERSON.items())
# A person as the activity counts one (METRICS.md, DAU) in those columns: the device, else the user id.
PERSON = "if(device != 0, device, user)"
# A window over a partition's rows up to the current one, where ``lagInFrame`` finds the row before.
FRAME = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"


def segment(filtered: tuple[str, ...]) -> str:
    """The conditions `` AND platform = {platform:String}``... on the columns named, each equal to the
    parameter of its name (the reports' segment filters: ``Filters.segment``, ``Filters.event_segments``)."""
    return "".join(f" AND {name} = {{{name}:String}}" for name in filtered)


@dataclass(frozen=True)
class Hourly:
    """A pre-aggregate per app and UTC hour filled from a raw table (``origin``: ``events``,
    ``touchpoints``) by a materialized view: its rows are ``SELECT {select} FROM {source} ... GROUP BY
    {group}`` over the raw rows; ``fingerprint``, a number per app and hour that the raw rows and the
    table's rows agree on (an hour short of rows differs)."""

    table: str
    columns: str
    source: str
    select: str
    group: str
    fingerprint: tuple[str, str]  # (over the raw rows, over the table's rows)
    origin: str = "events"


ACTIVITY = Hourly(
    "events_activity",
    "app_id, hour, event_name, platform, country, currency, events, revenue",
    "events FINAL",
    "app_id, toStartOfHour(timestamp) AS hour, event_name, platform, country, currency, "
    "toUInt64(count()) AS events, sum(toDecimal128(revenue, 6)) AS revenue",
    "app_id, hour, event_name, platform, country, currency",
    ("toUInt64(count())", "sum(events)"),
)
PEOPLE = Hourly(
    "events_people",
    "app_id, hour, platform, country, purchase, device, user",
    "events",  # a repeated event makes no other row
    f"app_id, toStartOfHour(timestamp) AS hour, platform, country, {PERSON_OF_EVENT}",
    "app_id, hour, platform, country, purchase, device, user",
    (
        f"uniqExact(platform, country, {', '.join(_PERSON.values())})",
        f"uniqExact(platform, country, {', '.join(_PERSON)})",
    ),
)
TOUCHES = Hourly(
    "touches_hourly",
    "app_id, hour, touch_type, platform, media_source, campaign, adset, ad, touches",
    "touchpoints FINAL",
    "app_id, toStartOfHour(timestamp) AS hour, touch_type, platform, media_source, campaign, adset, ad, "
    "toUInt64(count()) AS touches",
    "app_id, hour, touch_type, platform, media_source, campaign, adset, ad",
    ("toUInt64(count())", "sum(touches)"),
    origin="touchpoints",
)
HOURLY = (ACTIVITY, PEOPLE, TOUCHES)


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


def _hourly_source(
    hourly: str, raw: str, *, since: dt.datetime, until: dt.datetime, time_zone: str, segment: str, bounds: str
) -> tuple[str, dict]:
    """Rows of the whole UTC hours of [since, until) from an hourly table (``hourly``: the SELECT of its
    rows, ``timestamp`` the hour's start) and of the rest from the raw table (``raw``: the SELECT of the
    same columns from each raw row), each narrowed by ``segment``; and the parameters that bound them (named
    ``{bounds}_since`` and so on, so that two sources can be read in one query)."""
    first, last = _middle(since, until, time_zone)
    sql = f"""(
    {hourly}
    WHERE app_id = {{app_id:UUID}} AND hour >= {{{bounds}_from:DateTime64(3, 'UTC')}}
      AND hour < {{{bounds}_to:DateTime64(3, 'UTC')}}{segment}
    UNION ALL
    {raw}
    WHERE app_id = {{app_id:UUID}}
      AND ((timestamp >= {{{bounds}_since:DateTime64(3, 'UTC')}}
            AND timestamp < {{{bounds}_from:DateTime64(3, 'UTC')}})
        OR (timestamp >= {{{bounds}_to:DateTime64(3, 'UTC')}}
            AND timestamp < {{{bounds}_until:DateTime64(3, 'UTC')}})){segment}
)"""
    return sql, {f"{bounds}_since": since, f"{bounds}_from": first, f"{bounds}_to": last, f"{bounds}_until": until}


def activity_source(*, since: dt.datetime, until: dt.datetime, time_zone: str, segment: str = "") -> tuple[str, dict]:
    """A subquery of the app's activity in [since, until) as rows of (timestamp, event_name, platform,
    country, currency, events, revenue): whole hours from ``events_activity`` (``timestamp`` the hour's
    start), the rest from ``events FINAL`` (one row per event). Sum ``events`` to count events; group
    by a bucket of ``timestamp`` no finer than an hour. ``segment``: more conditions on the dimension
    columns (`` AND platform = ...``). Takes ``{app_id:UUID}``; its other parameters are returned."""
    return _hourly_source(
        "SELECT hour AS timestamp, event_name, platform, country, currency, events, revenue FROM events_activity",
        "SELECT timestamp, event_name, platform, country, currency, toUInt64(1) AS events, "
        "toDecimal128(revenue, 6) AS revenue FROM events FINAL",
        since=since,
        until=until,
        time_zone=time_zone,
        segment=segment,
        bounds="activity",
    )


def people_source(*, since: dt.datetime, until: dt.datetime, time_zone: str, segment: str = "") -> tuple[str, dict]:
    """A subquery of who had an event in [since, until) as rows of (timestamp, platform, country,
    purchase, device, user) (``device``, ``user``: the ids' hashes, 0 for none): whole hours from
    ``events_people`` (``timestamp`` the hour's start), the rest from ``events`` (a row per event; without
    FINAL, as a repeated row counts once). For distinct counts only (``metrics``: their source is
    ``events_people``), grouped by a bucket of ``timestamp`` no finer than an hour. Takes
    ``{app_id:UUID}``; its other parameters are returned."""
    return _hourly_source(
        "SELECT hour AS timestamp, platform, country, purchase, device, user FROM events_people",
        f"SELECT timestamp, platform, country, {PERSON_OF_EVENT} FROM events",
        since=since,
        until=until,
        time_zone=time_zone,
        segment=segment,
        bounds="people",
    )


def touches_source(*, since: dt.datetime, until: dt.datetime, time_zone: str, segment: str = "") -> tuple[str, dict]:
    """A subquery of the app's clicks and impressions in [since, until) as rows of (timestamp, touch_type,
    platform, media_source, campaign, adset, ad, touches): whole hours from ``touches_hourly``
    (``timestamp`` the hour's start), the rest from ``touchpoints FINAL`` (one row per touch). Sum
    ``touches`` to count them (``metrics``: their source is ``touches``). Takes ``{app_id:UUID}``; its
    other parameters are returned."""
    return _hourly_source(
        "SELECT hour AS timestamp, touch_type, platform, media_source, campaign, adset, ad, touches "
        "FROM touches_hourly",
        "SELECT timestamp, touch_type, platform, media_source, campaign, adset, ad, toUInt64(1) AS touches "
        "FROM touchpoints FINAL",
        since=since,
        until=until,
        time_zone=time_zone,
        segment=segment,
        bounds="touches",
    )


@dataclass(frozen=True)
class PeopleRows:
    """The rows of a generation of ``people_seen`` that start in [since, until) (days, and hours in the two
    days before its refresh), which answer for the people of that span; ``since`` starts ``first_day``."""

    generation: int
    first_day: dt.date
    since: dt.datetime
    until: dt.datetime


# The filters ``people_seen`` keeps each person's row before under (its ``before_{name}``): name -> the
# event segments they take (``Filters.event_segments``).
PEOPLE_FILTERS = {"any": (), "platform": ("platform",), "country": ("country",), "both": ("platform", "country")}

# The first day of a day's bucket (``{day}``) by interval of the series, no finer than a day.
DAY_BUCKETS = {"day": "{day}", "week": "toMonday({day})"}

# Who had an event in the period, as rows of (bucket, day of the person's row before it: none, 1970,
# rows): the counted rows of ``people_seen`` of the covered span under the period's filters
# (``people_seen_counts``: ``{counted}``), and, when the period goes on after them (``_LIVE``), those of
# the rest (``live``: a row per day and person) after their last covered row (``seen``) if any. A row
# counts in its bucket, and in the whole period, when the one before it is in neither.
_PEOPLE_COUNTS = """
SELECT groupArray((bucket, people)), sum(firsts) FROM (
    SELECT bucket, sumIf(rows, before < greatest(bucket, {{counted_first_day:Date}})) AS people,
           sumIf(rows, before < {{counted_first_day:Date}}) AS firsts
    FROM (SELECT {bucket_of_row} AS bucket, before, rows FROM people_seen_counts WHERE {counted}{live_rows})
    GROUP BY bucket
)
"""
_LIVE = f"""
    UNION ALL
    SELECT {{bucket_of_live}} AS bucket,
           greatest(s.last, lagInFrame(l.day) OVER (PARTITION BY l.person ORDER BY l.day {FRAME})) AS before,
           toUInt64(1) AS rows
    FROM (
        SELECT DISTINCT toDate(timestamp, {{{{counted_zone:String}}}}) AS day, {PERSON} AS person
        FROM {{rest}} WHERE person != 0
    ) AS l
    LEFT JOIN (
        SELECT person, max(day) AS last FROM people_seen
        WHERE {{covered}} AND person IN (
            SELECT {PERSON} AS person FROM {{rest}} WHERE person != 0
        )
        GROUP BY person
    ) AS s ON l.person = s.person
"""


def people_counts(
    *, until: dt.datetime, time_zone: str, filtered: tuple[str, ...], counted: PeopleRows, interval: str
) -> tuple[str, dict]:
    """A query of the distinct people (``PERSON``) of a period that starts at ``counted.since`` and ends at
    ``until``: one row of (array of (bucket, people), people of the whole period), the buckets by day
    or week (``DAY_BUCKETS``: their first days). The span ``counted`` answers for is counted over
    ``people_seen_counts`` (the rows of ``people_seen`` by the day of the row before: each person once,
    on its first row in the bucket or the period; migrations 0048, 0050), the rest over
    ``events_people`` and ``events``, where a person counts in a bucket or the period only without a
    row in it before (its last covered row looked up in ``people_seen``). ``filtered``: the names of the
    filters among platform and country that narrow the period (parameters of those names). Takes
    ``{app_id:UUID}``; its other parameters are returned."""
    rest, params = people_source(since=counted.until, until=until, time_zone=time_zone, segment=segment(filtered))
    covered = (
        "app_id = {app_id:UUID} AND generation = {counted_generation:UInt64} "
        "AND start >= {counted_since:DateTime64(3, 'UTC')} AND start < {counted_until:DateTime64(3, 'UTC')}"
        + segment(filtered)
    )
    live_rows = _LIVE.format(
        bucket_of_live=DAY_BUCKETS[interval].format(day="l.day"),
        rest=rest,
        covered=covered,
    )
    sql = _PEOPLE_COUNTS.format(
        bucket_of_row=DAY_BUCKETS[interval].format(day="day"),
        counted=f"{covered} AND filters = {{counted_filters:String}}",
        live_rows=live_rows if counted.until < until else "",
    )
    return sql, {
        **params,
        "counted_filters": next(name for name, names in PEOPLE_FILTERS.items() if names == filtered),
        "counted_zone": time_zone,
        "counted_generation": counted.generation,
        "counted_first_day": counted.first_day,
        "counted_since": counted.since,
        "counted_until": counted.until,
    }


def _months(hourly: Hourly) -> list[int]:
    return [
        month
        for (month,) in clickhouse.execute(
            f"SELECT DISTINCT toYYYYMM(timestamp) AS month FROM {hourly.origin} ORDER BY month",
            tag="aggregates.months",
        ).rows
    ]


def rebuild_month(hourly: Hourly, month: int) -> None:
    """Replace the month's rows of the hourly table with those computed from its raw table. Stop the
    consumers first: rows inserted while this runs may be counted twice or not at all."""
    clickhouse.execute(
        f"ALTER TABLE {topology.mutated(hourly.table)} DROP PARTITION {{month:UInt32}}",
        {"month": month},
        tag="aggregates.drop_month",
    )
    clickhouse.execute(
        f"INSERT INTO {hourly.table} ({hourly.columns}) SELECT {hourly.select} FROM {hourly.source} "
        f"WHERE toYYYYMM(timestamp) = {{month:UInt32}} GROUP BY {hourly.group}",
        {"month": month},
        tag="aggregates.rebuild_month",
        timeout=3600,
    )


def differing_months(hourly: Hourly, app_id: uuid.UUID | None = None) -> list[int]:
    """The months in which an app's hour of the hourly table differs from its raw table (``fingerprint``);
    ``app_id``: of that app only."""
    of_events, of_rows = hourly.fingerprint
    app = "WHERE app_id = {app_id:UUID}" if app_id else ""
    return [
        month
        for (month,) in clickhouse.execute(
            f"""
            SELECT DISTINCT toYYYYMM(greatest(raw.hour, aggregated.hour)) AS month FROM (
                SELECT app_id, toStartOfHour(timestamp) AS hour, {of_events} AS print
                FROM {hourly.source} {app} GROUP BY app_id, hour
            ) AS raw
            FULL OUTER JOIN (
                SELECT app_id, hour, {of_rows} AS print FROM {hourly.table} {app} GROUP BY app_id, hour
            ) AS aggregated ON raw.app_id = aggregated.app_id AND raw.hour = aggregated.hour
            WHERE raw.print != aggregated.print  -- a side without the hour reads 0 and the epoch
            ORDER BY month
            """,
            {"app_id": app_id} if app_id else {},
            tag="aggregates.check",
            timeout=3600,
        ).rows
    ]


def rebuild(*, check: bool = False, progress: Callable[[str, int], None] | None = None) -> dict[str, list[int]]:
    """Rebuild the hourly tables from their raw tables: every month with raw rows (and none left over), or
    with ``check`` only the months that differ. Returns the months rebuilt per table."""
    rebuilt = {}
    for hourly in HOURLY:
        if check:
            months = differing_months(hourly)
        else:
            months = sorted(
                set(_months(hourly))
                | {
                    month
                    for (month,) in clickhouse.execute(
                        f"SELECT DISTINCT toYYYYMM(hour) FROM {hourly.table}", tag="aggregates.months"
                    ).rows
                }
            )
        for month in months:
            rebuild_month(hourly, month)
            if progress:
                progress(hourly.table, month)
        rebuilt[hourly.table] = months
    return rebuilt
