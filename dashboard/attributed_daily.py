"""The attribution side's pre-aggregate: installs, the revenue they brought and the days (weeks) their
devices were active, per day and model, down to the ad (ClickHouse migrations 0042, 0044, 0046), so that
the campaign report, the overview, the model comparison and the cohorts do not credit every install's
path and join every purchase and event to its install when asked; and the conversions the time series
counts, per day, platform and country (``attributed_conversions``, 0051). The installs and revenue of the
conversions (and purchases) from the start of the day before the refresh's day are in rows per hour
(``conversion_bucket``, ``purchase_bucket``: the start of the row's hour, else of its day).

A refresh (``refresh``) writes a new generation of rows for an app from the raw tables, then records
it (``ReportRefresh``): its days and hours are the app's as its time zone was then, and it holds what
was stored when it started. Whatever arrives later, a purchase or a conversion attributed (or
recomputed) at any time in the past, is noted in ``report_changes`` with its earliest time. The line
is the earliest such time (or the refresh's start; now when nothing arrived since), taken back to the
start of its row: its hour when the pre-aggregate has hours there, else its day (as ClickHouse names
them, ``_bucket_starts``). A report (``coverage``) reads the pre-aggregate for the conversions from the
period's first day up to the line and their purchases before it, and the raw tables for the rest: the
hours after the line, the purchases from then on and the conversions they belong to
(``credits.credited_ctes(spans=...)``).
A purchase always comes after the conversion it belongs to, and a conversion can only take the
purchases after it, so nothing the pre-aggregate holds can have changed. The numbers are those of the
raw tables whenever the reports are asked; the refresh only moves the line between the two.

Retention's line also moves with any event written since (``activity_changes``, ``coverage(activity=True,
by_day=True)``); its rows are per day and its line is the start of a day. So does that of ``people_seen``
(migration 0048), each person's days (hours in the two days before the refresh) with the day of the one
before, whose first rows the distinct counts of activity count (``aggregates.people_counts``, over
those rows' counts in ``people_seen_counts``, 0050); the refresh writes it from ``people_daily``
(0047), who had an event per day of the app, and ``events``.

An erasure leaves an erased subject's counts in the attribution rows until the next refresh, as in
``events_activity``: those rows hold no identifier. ``people_daily`` and ``people_seen`` hold the hashes
of ids: an erasure deletes the subject's rows from them (``events.personal_data``) and notes itself as
activity of every time (``events.subjects.stores.note_erased``), so that nothing of the generation is
read until the refresh it makes due, which drops the generation (a refresh running meanwhile may have
read the subject's events; ``people_seen_counts`` keeps its counts until then, unread).
``settings.REPORT_AGGREGATES`` off reads raw data.
"""

import datetime as dt
import logging
import math
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from apps_registry.models import App
from core import clickhouse
from core.clickhouse import topology
from core.periodic import PeriodicJob
from events.attribution_engine import sql

from . import credits
from .aggregates import FRAME, PEOPLE_FILTERS, PERSON, PERSON_OF_EVENT, PeopleRows, segment
from .currency import conversion_day
from .filters import Filters
from .metrics import SERIES_CONVERSIONS, select
from .models import ReportRefresh

logger = logging.getLogger(__name__)

FAR = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
DIMENSIONS = "media_source, campaign, adset, ad"
# What a refresh writes: 1, retention (``attributed_retention``) and the revenue of new installs apart
# (``attributed_revenue.new_install``); 2, the recent rows per hour (``conversion_bucket``,
# ``purchase_bucket``); 3, who had an event per day (``people_daily``); 4, each person's days
# (``people_seen``); 5, their rows' counts (``people_seen_counts``); 6, the conversions the series counts
# (``attributed_conversions``). Readers skip a generation of another layout.
LAYOUT = 6
# The start of a time's row (a template of ``{column}``): its hour from ``{hourly_from}`` on, else its day.
BUCKET = (
    "if({column} >= {{hourly_from:DateTime64(3, 'UTC')}}, toStartOfHour({column}, {{tz:String}}), "
    "toStartOfDay({column}, {{tz:String}}))"
)


@dataclass(frozen=True)
class Coverage:
    """What a report reads from the pre-aggregate: the conversions of the instants [agg_from, agg_to)
    (from the start of the app's day ``first_day``, in the days before ``end_day``) and their purchases
    before ``fresh``, the start of the line's row (the line is in ``fresh_day``)."""

    generation: int
    first_day: dt.date
    end_day: dt.date
    agg_from: dt.datetime
    agg_to: dt.datetime
    fresh: dt.datetime
    fresh_day: dt.date


def _start(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)


def _hourly_from(started_at: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """Where a refresh that started then writes rows per hour: the start of the day before its day."""
    return _start(started_at.astimezone(zone).date() - dt.timedelta(days=1), zone)


def _bucket_starts(app: App, moments: list[dt.datetime], hourly_from: dt.datetime) -> list[dt.datetime]:
    """The start of the row each moment falls in (``BUCKET``), as ClickHouse names it: its hours are not
    always the wall clock's where an offset changes (a repeated hour is one row of two)."""
    starts = clickhouse.execute(
        f"SELECT arrayMap(m -> toUnixTimestamp({BUCKET.format(column='m')}), {{moments:Array(DateTime64(3, 'UTC'))}})",
        {"moments": moments, "hourly_from": hourly_from, "tz": app.timezone},
        tag="attributed_daily.bucket_starts",
    ).scalar()
    return [dt.datetime.fromtimestamp(start, dt.UTC) for start in starts]


def _in_flight() -> dt.timedelta:
    """How long before a refresh started a write it did not see may have been noted (a block is
    noted as it is written, a moment before it is stored)."""
    return dt.timedelta(seconds=settings.REPORT_CHANGES_MARGIN_SECONDS)


def _changed_since(app: App, moment: dt.datetime, tables: tuple[str, ...]) -> list[dt.datetime]:
    """The earliest purchase or conversion time (``activity_changes``: event time) written from ``moment``
    on into each of these tables that has any (to the second), in no order, read in one query."""
    rows = clickhouse.execute(
        " UNION ALL ".join(
            f"SELECT min(earliest), count() FROM {table} WHERE app_id = {{app_id:UUID}} "
            "AND at >= {moment:DateTime64(3, 'UTC')}"
            for table in tables
        ),
        {"app_id": app.id, "moment": moment.replace(microsecond=0)},
        tag="attributed_daily.changes",
    ).rows
    return [earliest.astimezone(dt.UTC) for earliest, noted in rows if noted]


def coverage(app: App, filters: Filters, *, activity: bool = False, by_day: bool = False) -> Coverage | None:
    """The part of the period the pre-aggregate answers for; None when no part (no refresh yet, one in
    another time zone, aggregates off, or no row of the period before the line). ``activity``: for
    the tables whose line any event written since the refresh moves, not only a purchase; ``by_day``:
    for those whose rows are all per day (retention), not per hour in the two days before the refresh."""
    return coverages(app, (filters,), activity=activity, by_day=by_day)[0]


def coverages(
    app: App, periods: tuple[Filters, ...], *, activity: bool = False, by_day: bool = False
) -> list[Coverage | None]:
    """``coverage`` of each period, the line read once."""
    if not settings.REPORT_AGGREGATES:
        return [None] * len(periods)
    refresh = ReportRefresh.objects.filter(app=app).first()
    if refresh is None or refresh.time_zone != app.timezone or refresh.layout != LAYOUT:
        return [None] * len(periods)
    tables = ("report_changes", "activity_changes") if activity else ("report_changes",)
    since = refresh.started_at - _in_flight()
    changes = _changed_since(app, since, tables)
    # Nothing written since the refresh: it holds all there is, up to now.
    line = min(refresh.started_at, *changes) if changes else timezone.now()
    zone = zoneinfo.ZoneInfo(app.timezone)
    hourly_from = FAR if by_day else _hourly_from(refresh.started_at, zone)
    fresh, *ends = _bucket_starts(app, [line, *(min(line, filters.until) for filters in periods)], hourly_from)
    return [
        _covered(refresh, filters, zone, fresh=fresh, end=end, line=line)
        for filters, end in zip(periods, ends, strict=True)
    ]


def people_coverage(app: App, filters: Filters) -> PeopleRows | None:
    """The rows of ``people_seen`` from the period's start that the refresh answers for: those before
    the line of activity (``coverage(activity=True)``), per day, and per hour in the two days before the
    refresh. None when none, or when the period starts inside a day (then the whole period is read
    from the hourly table and ``events``)."""
    covered = coverage(app, filters, activity=True)
    if covered is None or covered.agg_from != filters.since:
        return None
    return PeopleRows(covered.generation, covered.first_day, since=covered.agg_from, until=covered.agg_to)


def _covered(
    refresh: ReportRefresh,
    filters: Filters,
    zone: zoneinfo.ZoneInfo,
    *,
    fresh: dt.datetime,
    end: dt.datetime,
    line: dt.datetime,
) -> Coverage | None:
    """What the pre-aggregate answers for of the period: its rows from the period's first whole day up to
    ``end``, the start of the row of the line or of the period's end, whichever comes first."""
    first_day = filters.since.astimezone(zone).date()
    if _start(first_day, zone) < filters.since:
        first_day += dt.timedelta(days=1)
    agg_from = _start(first_day, zone)
    if end <= agg_from:
        return None
    return Coverage(
        generation=refresh.generation,
        first_day=first_day,
        end_day=(end - dt.timedelta(microseconds=1)).astimezone(zone).date() + dt.timedelta(days=1),
        agg_from=agg_from,
        agg_to=end,
        fresh=fresh,
        fresh_day=line.astimezone(zone).date(),
    )


def coverage_params(coverages: list[Coverage | None], periods: tuple[Filters, ...]) -> dict:
    """The parameters ``credits.credited_ctes(spans=len(periods))`` takes: each period's covered span
    (empty when the pre-aggregate answers for none of it), and where fresh purchases start (every
    purchase when it answers for nothing)."""
    params = {"fresh": next((covered.fresh for covered in coverages if covered), periods[0].since)}
    for i, (covered, filters) in enumerate(zip(coverages, periods, strict=True)):
        params[f"agg_from_{i}"] = covered.agg_from if covered else filters.since
        params[f"agg_to_{i}"] = covered.agg_to if covered else filters.since
    return params


def _where(covered: Coverage, filters: Filters, *, every_model: bool, buckets: bool = True) -> tuple[str, dict]:
    """The covered rows of the period under the filters; ``buckets``: the table has ``conversion_bucket``
    (retention's rows are per day, and its coverage's bounds are days)."""
    where = (
        "app_id = {app_id:UUID} AND generation = {generation:UInt64} AND day >= {first_day:Date} "
        "AND day < {end_day:Date}"
    )
    params = {"generation": covered.generation, "first_day": covered.first_day, "end_day": covered.end_day}
    if buckets:
        where += (
            " AND conversion_bucket >= {agg_from:DateTime64(3, 'UTC')} "
            "AND conversion_bucket < {agg_to:DateTime64(3, 'UTC')}"
        )
        params.update(agg_from=covered.agg_from, agg_to=covered.agg_to)
    if not every_model:
        where += " AND model = {model:String}"
    where += segment(tuple(filters.segment))  # the table's columns
    return where, params


def installs(
    app: App, filters: Filters, covered: Coverage, *, group: str, every_model: bool = False, paying: bool = True
) -> list[tuple]:
    """Rows of (``group``..., installs, non-organic installs, paying installs) of the covered
    conversions: paying, those whose first purchase came before ``fresh`` (0 unless ``paying``).
    ``group``: columns of the table (with ``model`` under ``every_model``; else the filters' model only)."""
    where, params = _where(covered, filters, every_model=every_model)
    payers = f"""
            UNION ALL
            SELECT {group}, 0., 0., first_payers FROM attributed_revenue
            WHERE {where} AND purchase_bucket < {{fresh:DateTime64(3, 'UTC')}} AND first_payers != 0"""
    return clickhouse.execute(
        f"""
        SELECT {group}, sum(i), sum(n), sum(p) FROM (
            SELECT {group}, installs AS i, non_organic AS n, 0. AS p FROM attributed_installs WHERE {where}
            {payers if paying else ""}
        )
        GROUP BY {group}
        """,
        {**params, **_filter_params(app, filters, covered)},
        tag="attributed_daily.installs",
    ).rows


def conversions(app: App, filters: Filters, covered: Coverage, *, bucket: str) -> list[tuple]:
    """Rows of (bucket, then the ``SERIES_CONVERSIONS``: installs, organic, non-organic, re-attributions,
    re-engagements) of the covered conversions; ``bucket``: an expression of ``day``, the app's."""
    where, params = _where(covered, filters, every_model=True)
    return clickhouse.execute(
        f"""
        SELECT {bucket} AS bucket, sum(installs), sum(organic), sum(non_organic), sum(reattributions),
               sum(reengagements)
        FROM attributed_conversions WHERE {where} GROUP BY bucket
        """,
        {**params, **_filter_params(app, filters, covered)},
        tag="attributed_daily.conversions",
    ).rows


def revenue(
    app: App, filters: Filters, covered: Coverage, *, group: str, every_model: bool = False, new_installs: bool = False
) -> list[tuple]:
    """Rows of (``group``..., day, currency, amount) of the covered conversions (``new_installs``: of new
    installs only, not retargeting), for purchases before ``fresh`` (the day to convert at:
    ``currency.conversion_day``)."""
    where, params = _where(covered, filters, every_model=every_model)
    if new_installs:
        where += " AND new_install"
    return clickhouse.execute(
        f"""
        SELECT {group}, {conversion_day(day="revenue_day", currency="currency")} AS converted_on, currency,
               sum(amount)
        FROM attributed_revenue
        WHERE {where} AND purchase_bucket < {{fresh:DateTime64(3, 'UTC')}} AND currency != ''
        GROUP BY {group}, converted_on, currency
        """,
        {**params, **_filter_params(app, filters, covered)},
        tag="attributed_daily.revenue",
    ).rows


def retained(
    app: App, filters: Filters, covered: Coverage, *, step: int, group: str, ages: tuple[int, ...] = ()
) -> list[tuple]:
    """Rows of (``group``..., period, retained) of the covered days' new installs: the credit of those
    whose device was active in the period (``step`` 1: a day; 7: a week, named by its Monday). Only the
    periods before the one of ``fresh_day``: the refresh saw every event before them (``coverage`` with
    ``activity``). ``ages``: only the periods these many days after the install day."""
    where, params = _where(covered, filters, every_model=False, buckets=False)
    live = covered.fresh_day - dt.timedelta(days=covered.fresh_day.weekday() if step == 7 else 0)
    aged = f" AND dateDiff('day', day, period) IN ({', '.join(map(str, ages))})" if ages else ""
    return clickhouse.execute(
        f"""
        SELECT {group}, period, sum(retained) FROM attributed_retention
        WHERE {where} AND step = {{step:UInt8}} AND period < {{live:Date}}{aged}
        GROUP BY {group}, period
        """,
        {**params, **_filter_params(app, filters, covered), "step": step, "live": live},
        tag="attributed_daily.retained",
    ).rows


def _filter_params(app: App, filters: Filters, covered: Coverage) -> dict:
    return {
        "app_id": app.id,
        "model": filters.model,
        "fresh": covered.fresh,
        "reporting_currency": app.currency,
        **filters.segment,
    }


_SOURCE = f"""
WITH {{ctes}},
segments AS (
    SELECT event_id, any(platform) AS platform, any(country) AS country FROM events
    WHERE app_id = {{{{app_id:UUID}}}} AND event_name IN ({credits.CONVERSION_EVENT_NAMES})
      AND event_id IN (SELECT conversion_id FROM credited)
    GROUP BY event_id
),
keyed AS (
    SELECT c.conversion_id AS conversion_id, c.model AS model, toDate(c.conversion_time, {{{{tz:String}}}}) AS day,
           {{conversion_bucket}} AS conversion_bucket, s.platform AS platform, s.country AS country,
           c.media_source AS media_source, c.campaign AS campaign, t.adset AS adset, t.ad AS ad,
           c.touch_id AS touch_id, c.credit AS credit, c.is_install AS is_install
    FROM credited AS c
    LEFT JOIN segments AS s ON c.conversion_id = s.event_id
    LEFT JOIN touch_ads AS t ON c.touch_id = t.touch_id
)"""

_INSTALLS = """
INSERT INTO attributed_installs
    (app_id, generation, model, day, conversion_bucket, platform, country, media_source, campaign, adset, ad,
     installs, non_organic)
{source}
SELECT {{app_id:UUID}}, {{generation:UInt64}}, model, day, conversion_bucket, platform, country, {dimensions},
       sum(credit), sumIf(credit, touch_id != {zero})
FROM keyed WHERE is_install
GROUP BY model, day, conversion_bucket, platform, country, {dimensions}
"""

_CONVERSIONS = """
INSERT INTO attributed_conversions
    (app_id, generation, day, conversion_bucket, platform, country, installs, organic, non_organic,
     reattributions, reengagements)
SELECT {{app_id:UUID}}, {{generation:UInt64}}, toDate(conversion_time, {{tz:String}}) AS day,
       {conversion_bucket} AS conversion_bucket, s.platform, s.country, {counts}
FROM attributions FINAL
LEFT JOIN (
    SELECT event_id, any(platform) AS platform, any(country) AS country FROM events
    WHERE app_id = {{app_id:UUID}} AND event_name IN ({events})
      AND timestamp >= {{since:DateTime64(3, 'UTC')}} AND timestamp < {{until:DateTime64(3, 'UTC')}}
    GROUP BY event_id
) AS s ON conversion_id = s.event_id
WHERE app_id = {{app_id:UUID}} AND conversion_kind IN ({kinds})
  AND conversion_time >= {{since:DateTime64(3, 'UTC')}} AND conversion_time < {{until:DateTime64(3, 'UTC')}}
GROUP BY day, conversion_bucket, s.platform, s.country
"""

_REVENUE = """
INSERT INTO attributed_revenue
    (app_id, generation, model, day, conversion_bucket, platform, country, media_source, campaign, adset, ad,
     revenue_day, purchase_bucket, currency, new_install, amount, first_payers)
{source},
firsts AS (SELECT conversion_id, min((bucket, currency)) AS first FROM cohort_revenue GROUP BY conversion_id)
SELECT {{app_id:UUID}}, {{generation:UInt64}}, k.model, k.day, k.conversion_bucket, k.platform, k.country,
       {keyed_dimensions}, r.day AS revenue_day, r.bucket AS purchase_bucket, r.currency, k.is_install,
       sum(toFloat64(r.amount) * k.credit), sumIf(k.credit, k.is_install AND (r.bucket, r.currency) = f.first)
FROM keyed AS k
INNER JOIN cohort_revenue AS r ON k.conversion_id = r.conversion_id
INNER JOIN firsts AS f ON k.conversion_id = f.conversion_id
GROUP BY k.model, k.day, k.conversion_bucket, k.platform, k.country, {keyed_dimensions}, revenue_day,
         purchase_bucket, r.currency, k.is_install
"""


# Who had an event per day of the app, from ``events`` (a repeated event makes no other row), for the
# events of ``[{since}, {until})``.
_PEOPLE = f"""
INSERT INTO people_daily (app_id, generation, day, platform, country, purchase, device, user)
SELECT {{app_id:UUID}}, {{generation:UInt64}}, toDate(timestamp, {{tz:String}}) AS day, platform, country,
       {PERSON_OF_EVENT}
FROM events
WHERE app_id = {{app_id:UUID}} AND timestamp >= {{since:DateTime64(3, 'UTC')}}
  AND timestamp < {{until:DateTime64(3, 'UTC')}}
GROUP BY day, platform, country, purchase, device, user
"""
# The days of events a refresh writes people of in one statement (its memory follows them).
PEOPLE_SPAN_DAYS = 7

# When each person had an event (migration 0048): per day from ``people_daily`` and, from
# ``{hourly_from}`` on, per hour from ``events``, for the people whose hash falls in ``{part}`` of
# ``{parts}``; with the day of the person's row before each, among all of its rows and those of the
# same platform, country or both, in the order of start, platform and country (1970-01-01: none).
_PEOPLE_SEEN = f"""
INSERT INTO people_seen (app_id, generation, start, day, platform, country, person, users,
                         before_any, before_platform, before_country, before_both)
SELECT {{app_id:UUID}}, {{generation:UInt64}}, start, toDate(start, {{tz:String}}) AS day, platform, country,
       person, users,
       lagInFrame(day) OVER (PARTITION BY person ORDER BY start, platform, country {FRAME}),
       lagInFrame(day) OVER (PARTITION BY person, platform ORDER BY start, country {FRAME}),
       lagInFrame(day) OVER (PARTITION BY person, country ORDER BY start, platform {FRAME}),
       lagInFrame(day) OVER (PARTITION BY person, platform, country ORDER BY start {FRAME})
FROM (
    SELECT start, platform, country, {PERSON} AS person, groupUniqArrayIf(user, user != 0) AS users
    FROM (
        SELECT toDateTime(toDateTime(day, {{tz:String}}), 'UTC') AS start, platform, country, device, user
        FROM people_daily
        WHERE app_id = {{app_id:UUID}} AND generation = {{generation:UInt64}}
          AND day < toDate({{hourly_from:DateTime64(3, 'UTC')}}, {{tz:String}})
        UNION ALL
        SELECT toDateTime(toStartOfHour(timestamp, {{tz:String}}), 'UTC') AS start, platform, country, device, user
        FROM (
            SELECT timestamp, platform, country, {PERSON_OF_EVENT} FROM events
            WHERE app_id = {{app_id:UUID}} AND timestamp >= {{hourly_from:DateTime64(3, 'UTC')}}
        )
    )
    WHERE person != 0 AND person % {{parts:UInt64}} = {{part:UInt64}}
    GROUP BY start, platform, country, person
)
"""
# The rows of ``people_daily`` a refresh reads people's days of in one statement (its memory follows them).
PEOPLE_SEEN_PART_ROWS = 4_000_000


def _counted_by(name: str, names: tuple[str, ...]) -> str:
    """A ``people_seen`` row under the filters ``name`` (of ``PEOPLE_FILTERS``): (name, its platform and
    country where the filters take them, else empty, the day of its row before under them)."""
    platform, country = (column if column in names else "''" for column in ("platform", "country"))
    return f"('{name}', {platform}, {country}, before_{name})"


# The generation's rows of ``people_seen`` counted by start and the day of the row before under each of
# ``PEOPLE_FILTERS`` (migration 0050).
_PEOPLE_SEEN_COUNTS = f"""
INSERT INTO people_seen_counts (app_id, generation, filters, start, day, platform, country, before, rows)
SELECT {{app_id:UUID}}, {{generation:UInt64}}, counted.1 AS by_filters, start, day, counted.2 AS by_platform,
       counted.3 AS by_country, counted.4 AS by_before, count()
FROM people_seen
ARRAY JOIN [{", ".join(_counted_by(name, names) for name, names in PEOPLE_FILTERS.items())}] AS counted
WHERE app_id = {{app_id:UUID}} AND generation = {{generation:UInt64}}
GROUP BY by_filters, start, day, by_platform, by_country, by_before
"""


# The periods followed after an install: days since its day, weeks (by their Mondays) since its week.
RETENTION_HORIZONS = {1: 30, 7: 12}  # step in days -> the last period followed
# From the day after an install to past the end of its last week followed, in any time zone.
RETENTION_FOLLOWED = dt.timedelta(days=7 * (RETENTION_HORIZONS[7] + 1) + 2)
_PERIODS = "[(1, toDate({column}, {{tz:String}})), (7, toMonday(toDate({column}, {{tz:String}})))]"

_RETENTION = """
INSERT INTO attributed_retention
    (app_id, generation, model, day, platform, country, media_source, campaign, adset, ad, step, period, retained)
{source},
active AS ({active})
SELECT {{app_id:UUID}}, {{generation:UInt64}}, k.model, k.day, k.platform, k.country, {keyed_dimensions},
       x.step, x.period, sum(k.credit)
FROM keyed AS k INNER JOIN active AS x ON k.conversion_id = x.conversion_id
WHERE k.is_install
  AND dateDiff('day', if(x.step = 7, toMonday(k.day), k.day), x.period) <= x.step * {horizon}
GROUP BY k.model, k.day, k.platform, k.country, {keyed_dimensions}, x.step, x.period
"""


def _everything(app: App) -> Filters:
    """Filters of every conversion of the app, under every model."""
    return Filters(model="", since=EPOCH, until=FAR, time_zone=app.timezone, days=0, form=None)


def _spans(app: App) -> list[tuple[dt.datetime, dt.datetime]]:
    """The conversion times a refresh writes in turn: whole days of the app, each span with at most
    ``REPORT_REFRESH_SPAN_CONVERSIONS`` credited conversions (a day with more is a span of its own), the
    first from 1970, the last to 2200, so that a conversion written meanwhile still falls in one. A
    refresh's memory then follows the span, not the app's history."""
    zone = zoneinfo.ZoneInfo(app.timezone)
    days = clickhouse.execute(
        f"SELECT toDate(conversion_time, {{tz:String}}) AS day, count() FROM attributions "
        f"WHERE app_id = {{app_id:UUID}} AND {credits.CREDITED} GROUP BY day ORDER BY day",
        {"app_id": app.id, "tz": app.timezone},
        tag="attributed_daily.spans",
    ).rows
    bounds, held = [EPOCH], 0
    for day, conversions in days:
        if held and held + conversions > settings.REPORT_REFRESH_SPAN_CONVERSIONS:
            bounds.append(_start(day, zone))
            held = 0
        held += conversions
    return list(zip(bounds, [*bounds[1:], FAR], strict=True))


# The tables a refresh writes a generation of rows in.
GENERATION_TABLES = (
    "attributed_installs",
    "attributed_conversions",
    "attributed_revenue",
    "attributed_retention",
    "people_daily",
    "people_seen",
    "people_seen_counts",
)


def refresh(app: App) -> ReportRefresh:
    """Write a new generation of the app's pre-aggregate from the raw tables, span by span of conversion
    time, and make it the one read, unless a refresh that started later was recorded first; drop the
    older ones."""
    started = timezone.now()
    zone = zoneinfo.ZoneInfo(app.timezone)
    generation = int(started.timestamp() * 1_000_000)
    statements = _statements(app)
    for since, until in _spans(app):
        params = {
            "app_id": app.id,
            "generation": generation,
            "since": since,
            "until": until,
            # The last event a span's retention follows: its last install's last period.
            "followed_until": min(until + RETENTION_FOLLOWED, FAR),
            "hourly_from": _hourly_from(started, zone),
            "tz": app.timezone,
        }
        for tag, statement in statements.items():
            clickhouse.execute(statement, params, tag=tag, timeout=3600)
    _refresh_people(app, generation)
    _refresh_people_seen(app, generation, hourly_from=_hourly_from(started, zone))
    current = ReportRefresh.objects.filter(app=app).first()
    if current is None or current.started_at < started:
        current, _ = ReportRefresh.objects.update_or_create(
            app=app,
            defaults={"generation": generation, "started_at": started, "time_zone": app.timezone, "layout": LAYOUT},
        )
    # Only older generations: a refresh that started later may be writing its rows now.
    for table in GENERATION_TABLES:
        clickhouse.execute(
            f"ALTER TABLE {topology.mutated(table)} DELETE WHERE app_id = {{app_id:UUID}} "
            "AND generation < {generation:UInt64} SETTINGS mutations_sync = 1",
            {"app_id": app.id, "generation": current.generation},
            tag="attributed_daily.drop_generations",
        )
    for table in ("report_changes", "activity_changes"):
        clickhouse.execute(
            f"ALTER TABLE {topology.mutated(table)} DELETE WHERE app_id = {{app_id:UUID}} "
            "AND at < {moment:DateTime64(3, 'UTC')}",
            {"app_id": app.id, "moment": (current.started_at - _in_flight()).replace(microsecond=0)},
            tag="attributed_daily.drop_changes",
        )
    return current


def _refresh_people(app: App, generation: int) -> None:
    """Write the generation's ``people_daily``: every event of the app, ``PEOPLE_SPAN_DAYS`` days of the
    app at a time, the last span to ``FAR`` so that an event written meanwhile still falls in one."""
    zone = zoneinfo.ZoneInfo(app.timezone)
    first = clickhouse.execute(
        "SELECT min(timestamp), count() FROM events WHERE app_id = {app_id:UUID}",
        {"app_id": app.id},
        tag="attributed_daily.people_first",
    ).rows[0]
    day = first[0].astimezone(zone).date() if first[1] else timezone.now().astimezone(zone).date()
    since, today = EPOCH, timezone.now().astimezone(zone).date()
    while since < FAR:
        day += dt.timedelta(days=PEOPLE_SPAN_DAYS)
        until = _start(day, zone) if day <= today else FAR
        clickhouse.execute(
            _PEOPLE,
            {"app_id": app.id, "generation": generation, "since": since, "until": until, "tz": app.timezone},
            tag="attributed_daily.refresh_people",
            timeout=3600,
        )
        since = until


def _refresh_people_seen(app: App, generation: int, *, hourly_from: dt.datetime) -> None:
    """Write the generation's ``people_seen``: per day from its ``people_daily`` and from ``hourly_from``
    on per hour from ``events``, the people in parts (by their hash) of at most about
    ``PEOPLE_SEEN_PART_ROWS`` rows of ``people_daily``: a person's rows are all in one part; then its
    rows' counts (``people_seen_counts``)."""
    rows = clickhouse.execute(
        "SELECT count() FROM people_daily WHERE app_id = {app_id:UUID} AND generation = {generation:UInt64}",
        {"app_id": app.id, "generation": generation},
        tag="attributed_daily.people_rows",
    ).scalar()
    parts = max(1, math.ceil(rows / PEOPLE_SEEN_PART_ROWS))
    for part in range(parts):
        clickhouse.execute(
            _PEOPLE_SEEN,
            {
                "app_id": app.id,
                "generation": generation,
                "hourly_from": hourly_from,
                "tz": app.timezone,
                "parts": parts,
                "part": part,
            },
            tag="attributed_daily.refresh_people_seen",
            timeout=3600,
        )
    clickhouse.execute(
        _PEOPLE_SEEN_COUNTS,
        {"app_id": app.id, "generation": generation},
        tag="attributed_daily.refresh_people_seen_counts",
        timeout=3600,
    )


def _statements(app: App) -> dict[str, str]:
    """The INSERT statements of a refresh, by tag: each writes the rows of the conversions of
    ``[{since}, {until})`` (a span)."""
    source = _SOURCE.format(
        ctes=credits.credited_ctes(_everything(app), every_model=True, bucket=BUCKET.format(column="timestamp")),
        conversion_bucket=BUCKET.format(column="c.conversion_time"),
    )
    keyed_dimensions = ", ".join(f"k.{name}" for name in DIMENSIONS.split(", "))
    horizon = f"if(x.step = 7, {RETENTION_HORIZONS[7]}, {RETENTION_HORIZONS[1]})"
    active = credits.active_periods(_PERIODS, events_until=" AND timestamp < {followed_until:DateTime64(3, 'UTC')}")
    return {
        "attributed_daily.refresh_installs": _INSTALLS.format(
            source=source, dimensions=DIMENSIONS, zero=credits.ZERO_UUID
        ),
        "attributed_daily.refresh_conversions": _CONVERSIONS.format(
            conversion_bucket=BUCKET.format(column="conversion_time"),
            counts=select(*SERIES_CONVERSIONS),
            events=credits.CONVERSION_EVENT_NAMES,
            kinds=sql.literals(credits.CREDITED_KINDS),
        ),
        "attributed_daily.refresh_revenue": _REVENUE.format(source=source, keyed_dimensions=keyed_dimensions),
        "attributed_daily.refresh_retention": _RETENTION.format(
            source=source, active=active, keyed_dimensions=keyed_dimensions, horizon=horizon
        ),
    }


def refresh_due(app: App) -> bool:
    """Whether anything was written since the app's last refresh (or it has none, or one that readers
    skip)."""
    current = ReportRefresh.objects.filter(app=app).first()
    if current is None or current.time_zone != app.timezone or current.layout != LAYOUT:
        return True
    return bool(_changed_since(app, current.started_at, ("report_changes", "activity_changes")))


def refresh_all(*, apps=None) -> int:
    """Refresh the apps (default: every active app) that are due; returns how many were refreshed."""
    refreshed = 0
    for app in apps if apps is not None else App.objects.filter(status=App.Status.ACTIVE):
        if refresh_due(app):
            refresh(app)
            refreshed += 1
    return refreshed


def refresh_job(*, apps=None) -> PeriodicJob:
    """The refresh as a periodic job (every REPORT_REFRESH_INTERVAL_SECONDS)."""
    return PeriodicJob(
        "report_refresh",
        lambda stop: refresh_all(apps=apps.all() if apps is not None else None),
        settings.REPORT_REFRESH_INTERVAL_SECONDS,
    )
