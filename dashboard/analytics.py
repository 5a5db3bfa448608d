"""The analytics reports as pipelines: filters -> SQL (metric fragments from ``metrics``) -> rows ->
money converted at each day's rate (``currency``) -> ratios derived (``metrics.derive``).

Two dates (docs/reports.md): the campaign report and the overview are by *attribution
date* — the installs of the period under the chosen model, each crediting its path's touches, and the
revenue those installs brought to date (a purchase belongs to its device's latest install before it,
unless it falls in the re-engagement window of a later re-engagement or re-attribution: then to that);
touches and cost are those of the period. The time series is by *activity date*.

The campaign report, the overview and the model comparison read the attribution side's pre-aggregate
(``attributed_daily``) for the days and hours it answers for, and the raw tables for the rest
(``credits.credited_ctes(spans=...)``), the series by day and week its conversions
(``attributed_conversions``); touches and activity come from the hourly pre-aggregates
(``aggregates``) for whole hours: the numbers are the raw tables' either way. The overview reads its
period and the one before it together (``_performances``): one query of the raw tables for both.

Filters: platform and country narrow installs (through their install event) and activity; platform
narrows touches too. Touches carry no country and imported spend neither platform nor country, so
under those filters the numbers that would ignore them are null, never silently unfiltered. Media
source and campaign narrow the credited touches, touches and cost.
"""

import datetime as dt
import decimal
import itertools
import math
import zoneinfo
from collections import defaultdict
from dataclasses import replace

from django.db.models import Sum

from apps_registry.models import AdSpend, App
from core import clickhouse
from core.errors import ApplicationError
from events.attribution_engine.rules import MODELS

from . import attributed_daily
from .aggregates import DAY_BUCKETS, activity_source, people_counts, people_source, segment, touches_source
from .attributed_daily import FAR
from .credits import CREDITED_KINDS, ORGANIC, ZERO_UUID, credited_ctes, installs_where, uncovered
from .currency import Money, conversion_day, money_totals
from .filters import Filters
from .metrics import SERIES_CONVERSIONS, derive, merged, select

LEVELS = {"source": 1, "campaign": 2, "adset": 3, "ad": 4}
DIMENSIONS = ("mediaSource", "campaign", "adset", "ad")
PERFORMANCE_RATIOS = (
    "ctr",
    "clickToInstallRate",
    "installToPurchaseRate",
    "arpu",
    "arppu",
    "ecpi",
    "roas",
)
SERIES_INTERVALS = {
    "hour": "toStartOfHour({column}, {{tz:String}})",
    "day": "toDate({column}, {{tz:String}})",
    "week": "toStartOfWeek({column}, 1, {{tz:String}})",
}
MAX_HOURLY_DAYS = 31


class NotApplicable(ApplicationError):
    """A filter or interval this report cannot honour (a business error: the API answers 400 with it)."""


def _params(app: App, filters: Filters) -> dict:
    return {
        "app_id": app.id,
        "since": filters.since,
        "until": filters.until,
        "model": filters.model,
        "tz": app.timezone,
        "reporting_currency": app.currency,
        **filters.segment,
    }


def _together(periods: tuple[Filters, ...]) -> tuple[Filters, dict]:
    """Adjacent periods (in time order, at most two: a period and the one before it) as one period to
    read, and the parameter that tells them apart: ``{split}``, where the second starts (``PERIOD_OF``)."""
    if len(periods) > 2 or any(a.until != b.since for a, b in itertools.pairwise(periods)):
        raise ValueError("Read together: a period, or two adjacent ones in time order.")
    return replace(periods[0], until=periods[-1].until), {"split": periods[1].since if len(periods) == 2 else FAR}


# Which of the periods read together (``_together``) a time falls in: 0, or 1 for the second.
PERIOD_OF = "toUInt8({column} >= {{split:DateTime64(3, 'UTC')}})"


def _ads(ads: bool) -> tuple[str, str]:
    """The ad set and ad columns, and the join that gives them: only when a level below the campaign
    is asked for (the touchpoints lookup is the dearest part of the query)."""
    if ads:
        return "t.adset AS adset, t.ad AS ad", "LEFT JOIN touch_ads AS t ON n.touch_id = t.touch_id"
    return "'' AS adset, '' AS ad", ""


# What the raw tables add to the pre-aggregate (``credits.credited_ctes``): the installs outside its rows
# (``live``), the payers it does not know yet (a live install's first purchase, or a covered install's
# whose purchases are all fresh) and the revenue of live installs or of fresh purchases. Each (credited
# touch, day and currency of its conversion's purchases) is a row; the first row of each counts the install.
_CREDITED = f"""
WITH {{ctes}},
bought AS (
    SELECT conversion_id, groupArray((day, currency, fresh, amount)) AS purchases, min(fresh) AS all_fresh
    FROM cohort_revenue GROUP BY conversion_id
)
SELECT {{columns}}, {{day}} AS day, p.2 AS currency,
       sumIf(n.credit, n.is_install AND n.live AND i <= 1) AS installs,
       sumIf(n.credit, n.is_install AND n.live AND i <= 1 AND n.touch_id != {ZERO_UUID}) AS non_organic,
       sumIf(n.credit, {{paying}}) AS paying,
       sumIf(toFloat64(p.4) * n.credit, {{counted}}) AS amount
FROM (
    SELECT c.*, b.purchases AS purchases, b.all_fresh AS all_fresh
    FROM narrowed AS c LEFT JOIN bought AS b ON c.conversion_id = b.conversion_id
) AS n
LEFT ARRAY JOIN n.purchases AS p, arrayEnumerate(n.purchases) AS i
{{join}}
WHERE (n.is_install AND (n.live OR (i = 1 AND n.all_fresh))) OR {{counted}}
GROUP BY {{group}}, day, currency
"""
_PAYING = "n.is_install AND i = 1 AND (n.live OR n.all_fresh)"
_COUNTED = "p.2 != '' AND (n.live OR p.3)"


def _credited(
    app: App,
    periods: tuple[Filters, ...],
    coverages: list[attributed_daily.Coverage | None],
    *,
    columns: str,
    group: str,
    join: str = "",
    every_model: bool = False,
    paying: bool = True,
    tag: str,
) -> tuple[list[tuple], list[tuple]]:
    """What the raw tables add (``_CREDITED``) to the periods' pre-aggregate, read in one query, per
    period (0, 1: ``_together``) and ``group`` (``columns`` name them): installs rows of (period,
    ``group``..., installs, non-organic, paying (0 unless ``paying``)) and revenue rows of (period,
    ``group``..., day, currency, amount)."""
    whole, split = _together(periods)
    spans = len(periods) if any(coverages) else 0
    width = 1 + len(group.split(","))
    sql = _CREDITED.format(
        ctes=credited_ctes(whole, every_model=every_model, spans=spans),
        columns=f"{PERIOD_OF.format(column='n.conversion_time')} AS period, {columns}",
        group=f"period, {group}",
        join=join,
        day=conversion_day(day="p.1", currency="p.2"),
        paying=_PAYING if paying else "0",
        counted=_COUNTED,
    )
    params = {**_params(app, whole), **split, **attributed_daily.coverage_params(coverages, periods)}
    rows = clickhouse.execute(sql, params, tag=tag).rows
    installs = [(*row[:width], *row[width + 2 : width + 5]) for row in rows]
    revenue = [(*row[: width + 2], row[width + 5]) for row in rows if row[width + 1]]
    return installs, revenue


def _touches(app: App, periods: tuple[Filters, ...]) -> list[tuple]:
    """The clicks and impressions of the periods (``_together``) per period, source, campaign, ad set and
    ad. Their hourly rows fall in one period each: periods start at days' starts, whole UTC hours
    wherever the hourly rows are read."""
    whole, split = _together(periods)
    narrowed = tuple(name for name in ("platform", "media_source", "campaign") if getattr(whole, name))
    touches, params = touches_source(
        since=whole.since, until=whole.until, time_zone=app.timezone, segment=segment(narrowed)
    )
    return clickhouse.execute(
        f"SELECT {PERIOD_OF.format(column='timestamp')} AS period, media_source, campaign, adset, ad, "
        f"{select('impressions', 'clicks')} FROM {touches} GROUP BY period, media_source, campaign, adset, ad",
        {**_params(app, whole), **split, **params},
        tag="analytics.performance_touches",
    ).rows


def _amount(money: Money | None) -> decimal.Decimal | None:
    """A money total as a number for ratios: none when there is none (no cost imported, or the
    filters leave cost out) or it has unconverted parts (a ratio of a partial sum would mislead)."""
    return money.total if money is not None and not money.unconverted else None


def performance(*, app: App, filters: Filters, levels: tuple[str | None, ...]) -> dict[str | None, list[dict]]:
    """Campaign performance rows per level asked for (media source -> campaign -> ad set -> ad; None:
    the one total row). Every level is rolled up from the same rows, read once, so the rows of a level
    add up to those of the level above and to the total."""
    return _performances(app, (filters,), levels)[0]


def _performances(
    app: App, periods: tuple[Filters, ...], levels: tuple[str | None, ...]
) -> list[dict[str | None, list[dict]]]:
    """``performance`` of each of the periods (``_together``), their rows read together: one query of
    the raw tables and one of the touches for all of them."""
    filters = periods[0]
    coverages = attributed_daily.coverages(app, periods)
    ads = any(LEVELS[level] > LEVELS["campaign"] for level in levels if level)
    columns, join = _ads(ads)
    installs, revenue = _credited(
        app,
        periods,
        coverages,
        columns=f"n.media_source, n.campaign, {columns}",
        group="n.media_source, n.campaign, adset, ad",
        join=join,
        tag="analytics.performance",
    )
    touches_apply = not filters.country
    touches = _touches(app, periods) if touches_apply else []
    depth = max((LEVELS[level] for level in levels if level), default=1)
    group = ", ".join(attributed_daily.DIMENSIONS.split(", ")[:depth])
    padding = ("",) * (len(DIMENSIONS) - depth)
    for period, (covered, during) in enumerate(zip(coverages, periods, strict=True)):
        if covered:
            installs += [
                (period, *row[:depth], *padding, *row[depth:])
                for row in attributed_daily.installs(app, during, covered, group=group)
            ]
            revenue += [
                (period, *row[:depth], *padding, *row[depth:])
                for row in attributed_daily.revenue(app, during, covered, group=group)
            ]
    revenue = [(*row[:7], decimal.Decimal(repr(round(row[7], 6)))) for row in revenue]

    def of(rows: list[tuple], period: int) -> list[tuple]:
        return [row[1:] for row in rows if row[0] == period]

    return [
        _levels(
            app,
            levels,
            installs=of(installs, period),
            revenue=of(revenue, period),
            touches=of(touches, period) if touches_apply else None,
            spend=_spend(app, during) if filters.cost_applies else None,
        )
        for period, during in enumerate(periods)
    ]


def _spend(app: App, filters: Filters) -> list[tuple]:
    """Imported cost rows of (source, campaign, ad set, ad, day, currency, cost) of the period's days."""
    rows = AdSpend.objects.filter(app=app, date__gte=filters.first_day, date__lte=filters.last_day)
    if filters.media_source:
        rows = rows.filter(source=filters.media_source)
    if filters.campaign:
        rows = rows.filter(campaign=filters.campaign)
    return list(rows.values_list("source", "campaign", "adset", "ad", "date", "currency").annotate(Sum("cost")))


def _levels(
    app: App,
    levels: tuple[str | None, ...],
    *,
    installs: list[tuple],
    revenue: list[tuple],
    touches: list[tuple] | None,
    spend: list[tuple] | None,
) -> dict[str | None, list[dict]]:
    """A period's performance rows per level from its rows keyed by (source, campaign, ad set, ad):
    installs, revenue, touches and spend (None: the filters leave them out, so they are null)."""
    out = {}
    for level in levels:
        depth = LEVELS[level] if level else 0

        def key(row, depth=depth) -> tuple:
            return tuple(value or "" for value in row[:4])[:depth]

        counted: dict[tuple, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for row in installs:
            totals = counted[key(row)]
            totals["installs"] += row[4]
            totals["nonOrganicInstalls"] += row[5]
            totals["payingUsers"] += row[6]
        for row in touches or ():
            totals = counted[key(row)]
            totals["impressions"] += row[4]
            totals["clicks"] += row[5]
        money = {
            "revenue": money_totals(target=app.currency, amounts=[(key(row), *row[4:]) for row in revenue]),
            "cost": money_totals(target=app.currency, amounts=[(key(row), *row[4:]) for row in spend or ()]),
        }
        rows = []
        for k in set(counted) | set(money["revenue"]) | set(money["cost"]) | ({()} if depth == 0 else set()):
            totals = counted.get(k, {})
            # Organic installs had no touch to count (unless a link names its source "organic").
            touched = touches is not None and (k[:1] != (ORGANIC,) or "clicks" in totals)
            row = {
                **dict(zip(DIMENSIONS, k, strict=False)),
                "impressions": int(totals.get("impressions", 0)) if touched else None,
                "clicks": int(totals.get("clicks", 0)) if touched else None,
                "installs": round(totals.get("installs", 0.0), 6),
                "nonOrganicInstalls": round(totals.get("nonOrganicInstalls", 0.0), 6),
                "payingUsers": round(totals.get("payingUsers", 0.0), 6),
            }
            revenue_k = money["revenue"].get(k, Money(currency=app.currency))
            cost_k = money["cost"].get(k)  # None: no cost imported for the row, which is not a cost of 0
            numbers = {
                **row,
                "revenue": _amount(revenue_k),
                "cost": _amount(cost_k),
            }
            derived = derive(numbers, *PERFORMANCE_RATIOS)
            row["revenue"] = revenue_k.as_dict()
            row["cost"] = cost_k.as_dict() if cost_k is not None else None
            rows.append({**row, **{name: derived[name] for name in PERFORMANCE_RATIOS}})
        out[level] = sorted(rows, key=lambda r, depth=depth: (-r["installs"], [r[d] for d in DIMENSIONS[:depth]]))
    return out


def _activity(app: App, filters: Filters) -> tuple[str, dict]:
    """The period's activity rows (``aggregates.activity_source``) and the parameters of a query on them."""
    activity, params = activity_source(
        since=filters.since, until=filters.until, time_zone=app.timezone, segment=segment(filters.event_segments)
    )
    return activity, {**_params(app, filters), **params}


def _people(app: App, filters: Filters, interval: str | None) -> tuple[dict, int]:
    """The period's distinct people (active users) per bucket of the interval (none: no buckets) and over
    the whole period: counted over the refresh's ``people_seen`` for the rows it answers for from the
    period's start (``attributed_daily.people_coverage``; not for buckets of an hour), else
    (``aggregates.people_source``) as sets of the people of ``events_people`` and ``events``."""
    covered = attributed_daily.people_coverage(app, filters) if interval != "hour" else None
    if covered:
        sql, params = people_counts(
            until=filters.until,
            time_zone=app.timezone,
            filtered=filters.event_segments,
            counted=covered,
            interval=interval or "day",
        )
    else:
        people, params = people_source(
            since=filters.since, until=filters.until, time_zone=app.timezone, segment=segment(filters.event_segments)
        )
        if interval:
            state, merge = merged("activeUsers")
            sql = (
                f"SELECT groupArray((bucket, finalizeAggregation(people))), {merge}(people) FROM "
                f"(SELECT {SERIES_INTERVALS[interval].format(column='timestamp')} AS bucket, {state} AS people "
                f"FROM {people} GROUP BY bucket)"
            )
        else:
            sql = f"SELECT [], {select('activeUsers')} FROM {people}"
    buckets, total = clickhouse.execute(sql, {**_params(app, filters), **params}, tag="analytics.people").rows[0]
    return (dict(buckets) if interval else {}), total


def activity(*, app: App, filters: Filters) -> dict:
    """Events and active users of the period (activity date); none under a media source or campaign
    filter, which activity does not carry."""
    if filters.media_source or filters.campaign:
        return {"totalEvents": None, "activeUsers": None}
    source, params = _activity(app, filters)
    events = clickhouse.execute(f"SELECT sum(events) FROM {source}", params, tag="analytics.activity").scalar()
    return {"totalEvents": events, "activeUsers": _people(app, filters, None)[1]}


def overview(*, app: App, filters: Filters, levels: tuple[str, ...] = (), activity_now: dict | None = None) -> dict:
    """The period's KPIs and the same for the previous period (``Filters.previous_days``); with
    ``levels``, also the period's performance rows at those levels (``rows``), read with its KPIs in one go.
    ``activity_now``: the period's ``activity`` when already read (``series_with_activity``)."""
    previous = replace(filters, since=filters.previous_since, until=filters.since)
    before, current = _performances(app, (previous, filters), (*levels, None))
    return {
        "current": {**current.pop(None)[0], **(activity_now or activity(app=app, filters=filters))},
        "previous": {**before[None][0], **activity(app=app, filters=previous)},
        **({"rows": current} if levels else {}),
    }


def _hours(app: App, filters: Filters) -> list[dt.datetime]:
    """Every hour of the period as ClickHouse starts them (``toStartOfHour`` in the app's time zone), in
    order: where an offset changes by half an hour its hours count from the day's start, not from the
    wall clock's. Asked of it at every quarter hour of the period: offsets are whole quarter hours and
    no hour is shorter than half of one, so each hour has a quarter in it."""
    quarter = dt.timedelta(minutes=15)
    start = filters.since.astimezone(dt.UTC)
    start -= (start - dt.datetime.combine(start.date(), dt.time(), dt.UTC)) % quarter
    starts = clickhouse.execute(
        "SELECT arrayMap(q -> toUnixTimestamp(toStartOfHour({start:DateTime64(3, 'UTC')} + toIntervalMinute(15 * q), "
        "{tz:String})), range({quarters:UInt32}))",
        {"start": start, "quarters": math.ceil((filters.until - start) / quarter), "tz": app.timezone},
        tag="analytics.series_hours",
    ).scalar()
    return [dt.datetime.fromtimestamp(hour, dt.UTC) for hour in dict.fromkeys(starts)]


def _buckets(app: App, filters: Filters, interval: str) -> list:
    """Every bucket start of the period, as ClickHouse names them: UTC instants for hours (``_hours``),
    the app's dates for days and weeks (weeks start on Monday)."""
    if interval == "hour":
        return _hours(app, filters)
    zone = zoneinfo.ZoneInfo(app.timezone)
    first = filters.since.astimezone(zone).date()
    last = (filters.until - dt.timedelta(microseconds=1)).astimezone(zone).date()
    step = 1
    if interval == "week":
        first, last, step = first - dt.timedelta(days=first.weekday()), last - dt.timedelta(days=last.weekday()), 7
    return [first + dt.timedelta(days=n) for n in range(0, (last - first).days + 1, step)]


def series(*, app: App, filters: Filters, interval: str) -> list[dict]:
    """Per hour, day or week of the app's time zone (activity date): events, active users (devices,
    else user ids), new installs organic and non-organic, re-attributions (among the installs) and
    re-engagements apart, and revenue converted at each day's rate."""
    return _series(app, filters, interval)[0]


def series_with_activity(*, app: App, filters: Filters, interval: str) -> tuple[list[dict], dict]:
    """``series`` and the period's ``activity`` from the same reads: its events are the buckets' sum, its
    active users counted with the buckets' (``_people``) rather than apart."""
    return _series(app, filters, interval)


def _series(app: App, filters: Filters, interval: str) -> tuple[list[dict], dict]:
    """``series`` and the period's ``activity``."""
    if filters.media_source or filters.campaign:
        raise NotApplicable("The time series counts activity, which carries no media source or campaign.")
    if interval == "hour" and filters.until - filters.since > dt.timedelta(days=MAX_HOURLY_DAYS):
        raise NotApplicable(f"An hourly series spans at most {MAX_HOURLY_DAYS} days.")
    source, params = _activity(app, filters)
    on_events = SERIES_INTERVALS[interval].format(column="timestamp")
    counted = clickhouse.execute(
        f"SELECT {on_events} AS bucket, sum(events) FROM {source} GROUP BY bucket",
        params,
        tag="analytics.series_events",
    ).rows
    dau, active_users = _people(app, filters, interval)
    events = {bucket: (total, dau.get(bucket, 0)) for bucket, total in counted}
    installs = _series_conversions(app, filters, interval)
    revenue = money_totals(
        target=app.currency,
        amounts=clickhouse.execute(
            f"SELECT {on_events} AS bucket, toDate(timestamp, {{tz:String}}) AS day, currency, sum(revenue) "
            f"FROM {source} WHERE event_name = 'purchase' AND currency != '' GROUP BY bucket, day, currency",
            params,
            tag="analytics.series_revenue",
        ).rows,
    )
    zone = zoneinfo.ZoneInfo(app.timezone)
    points = []
    for bucket in _buckets(app, filters, interval):
        total_events, dau = events.get(bucket, (0, 0))
        new, organic, non_organic, reattributions, reengagements = installs.get(bucket, (0, 0, 0, 0, 0))
        points.append(
            {
                "start": bucket.astimezone(zone).isoformat() if interval == "hour" else bucket.isoformat(),
                "totalEvents": total_events,
                "dau": dau,
                "installs": new,
                "organicInstalls": organic,
                "nonOrganicInstalls": non_organic,
                "reattributions": reattributions,
                "reengagements": reengagements,
                "revenue": revenue.get(bucket, Money(currency=app.currency)).as_dict(),
            }
        )
    return points, {"totalEvents": sum(total for total, _ in events.values()), "activeUsers": active_users}


def _series_conversions(app: App, filters: Filters, interval: str) -> dict:
    """The ``SERIES_CONVERSIONS`` per bucket: those before the line from the pre-aggregate (by day and
    week; its older rows are per day), the rest from ``attributions FINAL``."""
    covered = attributed_daily.coverage(app, filters) if interval != "hour" else None
    counted: dict = defaultdict(lambda: (0,) * len(SERIES_CONVERSIONS))
    live = installs_where(filters, kinds=CREDITED_KINDS, within=uncovered(1))
    rows = clickhouse.execute(
        f"SELECT {SERIES_INTERVALS[interval].format(column='conversion_time')} AS bucket, "
        f"{select(*SERIES_CONVERSIONS)} FROM attributions FINAL WHERE {live} GROUP BY bucket",
        {**_params(app, filters), **attributed_daily.coverage_params([covered], (filters,))},
        tag="analytics.series_installs",
    ).rows
    if covered:
        rows += attributed_daily.conversions(app, filters, covered, bucket=DAY_BUCKETS[interval].format(day="day"))
    for bucket, *counts in rows:
        counted[bucket] = tuple(a + b for a, b in zip(counted[bucket], counts, strict=True))
    return counted


def model_comparison(*, app: App, filters: Filters) -> list[dict]:
    """Installs and the revenue they brought to date, per media source, under each of the six models
    side by side (the ``model`` filter is ignored: every model is the point)."""
    covered = attributed_daily.coverage(app, filters)
    installs_rows, revenue_rows = _credited(
        app,
        (filters,),
        [covered],
        columns="n.model AS model, n.media_source AS media_source",
        group="model, media_source",
        every_model=True,
        paying=False,
        tag="analytics.models",
    )
    installs_rows = [row[1:4] for row in installs_rows]
    revenue_rows = [row[1:] for row in revenue_rows]
    if covered:
        group = "model, media_source"
        installs_rows += [
            row[:3]
            for row in attributed_daily.installs(app, filters, covered, group=group, every_model=True, paying=False)
        ]
        revenue_rows += attributed_daily.revenue(app, filters, covered, group=group, every_model=True)
    installs: dict[tuple, float] = defaultdict(float)
    for model, source, value in installs_rows:
        installs[model, source] += value
    revenue = money_totals(
        target=app.currency,
        amounts=[
            ((model, source), day, currency, decimal.Decimal(repr(round(amount, 6))))
            for model, source, day, currency, amount in revenue_rows
        ],
    )
    sources = {source for _, source in installs} | {source for _, source in revenue}
    rows = [
        {
            "mediaSource": source,
            "models": [
                {
                    "model": model,
                    "installs": round(float(installs.get((model, source), 0.0)), 6),
                    "revenue": revenue.get((model, source), Money(currency=app.currency)).as_dict(),
                }
                for model in MODELS
            ],
        }
        for source in sources
    ]
    return sorted(rows, key=lambda row: (-max(m["installs"] for m in row["models"]), row["mediaSource"]))


def _fraud_sql(filters: Filters) -> str:
    return f"""
WITH flagged AS (
    SELECT rejected_touch_id, rejection_reason, fraud_status FROM attributions FINAL
    WHERE {installs_where(filters)} AND fraud_status != ''
)
SELECT t.media_source AS media_source, a.rejection_reason AS reason, a.fraud_status AS status, count() AS installs
FROM flagged AS a
LEFT JOIN (
    SELECT touch_id, any(media_source) AS media_source FROM touchpoints
    WHERE app_id = {{app_id:UUID}} AND touch_id IN (SELECT rejected_touch_id FROM flagged)
    GROUP BY touch_id
) AS t ON a.rejected_touch_id = t.touch_id
GROUP BY media_source, reason, status
ORDER BY installs DESC, media_source, reason, status
"""


def fraud(*, app: App, filters: Filters) -> list[dict]:
    """New installs of the period whose winning click was flagged, per source of that click, reason
    (click injection, click flooding) and outcome (``flagged``: kept under the app's flag policy;
    ``rejected``: credited elsewhere under its reject policy)."""
    if filters.media_source or filters.campaign:
        raise NotApplicable("The fraud report lists every source; it takes no media source or campaign filter.")
    result = clickhouse.execute(_fraud_sql(filters), _params(app, filters), tag="analytics.fraud")
    return [
        {"mediaSource": source, "reason": reason, "status": status, "installs": installs}
        for source, reason, status, installs in result.rows
    ]


# Upper bounds (seconds, exclusive) of the click-to-install time buckets; the last bucket is open.
CTIT_BOUNDS = (10, 60, 600, 3600, 6 * 3600, 24 * 3600, 7 * 24 * 3600)


def _ctit_sql(filters: Filters) -> str:
    return (
        "SELECT media_source, arrayFirstIndex(bound -> ctit_seconds < bound, {bounds:Array(Float64)}) AS bucket, "
        f"count() FROM attributions FINAL WHERE {installs_where(filters)} "
        "AND touch_type = 'click' AND ctit_seconds IS NOT NULL GROUP BY media_source, bucket"
    )


def click_to_install_times(*, app: App, filters: Filters) -> list[dict]:
    """New installs of the period won by a click, per source and bucket of the time from that click
    to the install (click injection sits in the first bucket, click flooding spreads flat)."""
    if filters.media_source or filters.campaign:
        raise NotApplicable("The click-to-install report lists every source; it takes no media source or campaign.")
    rows = clickhouse.execute(
        _ctit_sql(filters), {**_params(app, filters), "bounds": list(CTIT_BOUNDS)}, tag="analytics.ctit"
    ).rows
    out = []
    for source, bucket, installs in sorted(rows, key=lambda row: (row[0], row[1] or len(CTIT_BOUNDS) + 1)):
        position = (bucket or len(CTIT_BOUNDS) + 1) - 1  # arrayFirstIndex is 1-based, 0 past the last bound
        out.append(
            {
                "mediaSource": source,
                "fromSeconds": CTIT_BOUNDS[position - 1] if position else 0,
                "toSeconds": CTIT_BOUNDS[position] if position < len(CTIT_BOUNDS) else None,
                "installs": installs,
            }
        )
    return out
