"""Cohort reports, by attribution date: the engine's new installs of the period (as the campaign
report counts them, split over their touches by the chosen model's credits), grouped by the day or
week of their install in the app's time zone, then followed day by day.

* Retention: the share of a cohort's installs whose device had any event on day (week) n after its
  install — calendar days (Monday weeks) of the app's time zone, day 0 the install day (METRICS.md,
  "classic" retention).
* LTV: the cumulative revenue of a cohort's installs up to day n after each one's install day, per
  install, in the app's currency at each purchase day's rate.

Every event and purchase belongs to its device's latest new install before it (as the campaign
report's revenue), so a device installed again is followed from its new install on. A day n exists
once it is over for every install of the cohort (in the app's time zone): before that it is null,
never 0. An install credited to several touches counts its credit in each split row.
"""

import datetime as dt
import decimal
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, replace

from django.utils import timezone

from apps_registry.models import App
from core import clickhouse

from . import analytics, attributed_daily
from .analytics import DIMENSIONS, LEVELS, SERIES_INTERVALS, _params
from .credits import active_periods, credited_ctes, installs_where
from .currency import Money, money_totals
from .filters import Filters
from .metrics import RETENTION_DAYS, ROAS_DAYS, derive


@dataclass(frozen=True)
class Granularity:
    step_days: int
    horizon: int  # the last period followed: D30 or W12


GRANULARITIES = {
    name: Granularity(step_days=step, horizon=attributed_daily.RETENTION_HORIZONS[step])
    for name, step in (("day", 1), ("week", 7))
}
# The split parameter -> the JSON names of its dimensions; the campaign report's columns go down to the ad.
SPLITS = {"none": (), "source": ("mediaSource",), "campaign": ("mediaSource", "campaign")}
_DIMENSION_COLUMNS = {  # the JSON names of analytics.DIMENSIONS -> their columns
    "mediaSource": "n.media_source",
    "campaign": "n.campaign",
    "adset": "t.adset",
    "ad": "t.ad",
}
# The same dimensions as columns of the pre-aggregate (attributed_daily)
_AGGREGATE_COLUMNS = dict(zip(DIMENSIONS, attributed_daily.DIMENSIONS.split(", "), strict=True))
LTV_DEFAULT_HORIZON, LTV_MAX_HORIZON = 30, 180


def _members_ctes(filters: Filters, granularity: str, dimensions: tuple[str, ...]) -> str:
    """``members``: one row per (install, credited touch) of the period with its cohort, its install
    day, these dimensions and its credit (the CTEs of the campaign report, plus these)."""
    columns = "".join(f", {_DIMENSION_COLUMNS[name]} AS {name}" for name in dimensions)
    ads = "LEFT JOIN touch_ads AS t ON n.touch_id = t.touch_id" if {"adset", "ad"} & set(dimensions) else ""
    return f"""
WITH {credited_ctes(filters)},
install_days AS (
    SELECT conversion_id, toDate(conversion_time, {{tz:String}}) AS install_day,
           {SERIES_INTERVALS[granularity].format(column="conversion_time")} AS cohort
    FROM attributions FINAL WHERE {installs_where(filters)}
),
members AS (
    SELECT n.conversion_id AS conversion_id, i.cohort AS cohort, i.install_day AS install_day, n.credit AS credit
           {columns}
    FROM narrowed AS n INNER JOIN install_days AS i ON n.conversion_id = i.conversion_id {ads}
)"""


def _group(dimensions: tuple[str, ...]) -> str:
    return "".join(f", m.{name}" for name in dimensions)


def _sizes_sql(filters: Filters, granularity: str, dimensions: tuple[str, ...]) -> str:
    return f"""{_members_ctes(filters, granularity, dimensions)}
SELECT m.cohort{_group(dimensions)}, sum(m.credit), max(m.install_day)
FROM members AS m GROUP BY m.cohort{_group(dimensions)}
"""


def _retained_sql(filters: Filters, granularity: str, dimensions: tuple[str, ...]) -> str:
    period = SERIES_INTERVALS[granularity]
    active = active_periods(f"[(0, {period})]", events_until=" AND timestamp < {followed_until:DateTime64(3, 'UTC')}")
    return f"""{_members_ctes(filters, granularity, dimensions)},
active AS ({active})
SELECT m.cohort{_group(dimensions)}, x.period, sum(m.credit)
FROM members AS m INNER JOIN active AS x ON m.conversion_id = x.conversion_id
GROUP BY m.cohort{_group(dimensions)}, x.period
"""


def _revenue_sql(filters: Filters, granularity: str, dimensions: tuple[str, ...]) -> str:
    return f"""{_members_ctes(filters, granularity, dimensions)}
SELECT m.cohort{_group(dimensions)}, dateDiff('day', m.install_day, r.day) AS n, r.day, r.currency,
       sum(toFloat64(r.amount) * m.credit)
FROM members AS m INNER JOIN cohort_revenue AS r ON m.conversion_id = r.conversion_id
WHERE r.currency != '' AND n <= {{horizon:UInt16}}
GROUP BY m.cohort{_group(dimensions)}, n, r.day, r.currency
"""


def _today(app: App) -> dt.date:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(app.timezone)).date()


def _covered(app: App, filters: Filters) -> attributed_daily.Coverage | None:
    """The whole days of the period the pre-aggregate answers for, when what was written since the
    refresh (events, purchases, conversions) all happened today: then the raw tables could only change
    periods not over yet, which the reports show as null. Otherwise none: the raw tables answer."""
    covered = attributed_daily.coverage(app, filters, activity=True, by_day=True)
    if covered is None or covered.fresh_day < _today(app) or covered.agg_from != filters.since:
        return None
    return covered


def _aggregate_revenue(
    app: App, filters: Filters, covered: attributed_daily.Coverage, dimensions: tuple[str, ...]
) -> list[tuple]:
    """Rows of (install day, dimensions..., days since it, day, currency, amount) of the covered new
    installs' purchases before the line, from the pre-aggregate."""
    group = f"{_aggregate_group(dimensions)}, dateDiff('day', day, revenue_day)"
    return attributed_daily.revenue(app, filters, covered, group=group, new_installs=True)


def _cohort_of(day: dt.date, granularity: str) -> dt.date:
    return day - dt.timedelta(days=day.weekday()) if granularity == "week" else day


def _aggregate_group(dimensions: tuple[str, ...]) -> str:
    return ", ".join(["day", *(_AGGREGATE_COLUMNS[name] for name in dimensions)])


def _cohort_rows(
    app: App, filters: Filters, granularity: str, dimensions: tuple[str, ...], covered: attributed_daily.Coverage | None
) -> dict[tuple, dict]:
    """Per (cohort, dimensions): the cohort's size and its last install day; from the pre-aggregate for
    the ``covered`` days, from the raw tables after them."""
    rows = []
    if covered:
        group = _aggregate_group(dimensions)
        for day, *key, installs, _, _ in attributed_daily.installs(app, filters, covered, group=group, paying=False):
            rows.append((_cohort_of(day, granularity), *key, installs, day))
        filters = replace(filters, since=covered.agg_to)
    if filters.since < filters.until:
        rows += clickhouse.execute(
            _sizes_sql(filters, granularity, dimensions), _params(app, filters), tag="cohorts.sizes"
        ).rows
    sizes: dict[tuple, dict] = {}
    for *key, installs, last in rows:
        cohort = sizes.setdefault(tuple(key), {"installs": 0.0, "lastInstallDay": last})
        cohort["installs"] += float(installs)
        cohort["lastInstallDay"] = max(cohort["lastInstallDay"], last)
    return sizes


def _dimensions(split: str, key: tuple) -> dict:
    return {"cohort": key[0].isoformat(), **dict(zip(SPLITS[split], key[1:], strict=True))}


def _ordered(rows: list[dict], split: str) -> list[dict]:
    return sorted(rows, key=lambda row: (row["cohort"], -row["installs"], [row[name] for name in SPLITS[split]]))


def retention(*, app: App, filters: Filters, granularity: str, split: str) -> list[dict]:
    """The retention matrix: per cohort (and split row), its installs and, for each day (week) 0 to
    the horizon, the installs retained and their share; null for a period not over yet."""
    grain = GRANULARITIES[granularity]
    step = dt.timedelta(days=grain.step_days)
    covered = _covered(app, filters)
    sizes = _cohort_rows(app, filters, granularity, SPLITS[split], covered)
    if covered:
        # The installs after the covered days, and the activity from the line on, are in periods not over.
        rows = [
            (_cohort_of(day, granularity), *rest)
            for day, *rest in attributed_daily.retained(
                app, filters, covered, step=grain.step_days, group=_aggregate_group(SPLITS[split])
            )
        ]
    else:
        params = {**_params(app, filters), "followed_until": filters.until + (grain.horizon + 1) * step}
        rows = clickhouse.execute(
            _retained_sql(filters, granularity, SPLITS[split]), params, tag="cohorts.retention"
        ).rows
    retained: dict[tuple, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for *key, period, value in rows:
        n = (period - key[0]).days // grain.step_days
        if n <= grain.horizon:
            retained[tuple(key)][n] += float(value)
    today = _today(app)
    out = []
    for key, cohort in sizes.items():
        over = [key[0] + (n + 1) * step <= today for n in range(grain.horizon + 1)]
        counts = [round(retained[key].get(n, 0.0), 6) if over[n] else None for n in range(grain.horizon + 1)]
        out.append(
            {
                **_dimensions(split, key),
                "installs": round(cohort["installs"], 6),
                "retained": counts,
                "retention": [
                    derive({"retained": c, "installs": cohort["installs"]}, "retention")["retention"] for c in counts
                ],
            }
        )
    return _ordered(out, split)


def ltv_curves(*, app: App, filters: Filters, granularity: str, split: str, horizon: int) -> list[dict]:
    """Per cohort (and split row): its installs and, for each day 0 to ``horizon`` after install, the
    cumulative revenue of its installs and that per install (LTV). A day not over for every install
    of the cohort is null; an LTV whose revenue is partly unconverted is null, the revenue showing
    the unconverted part apart."""
    covered = _covered(app, filters)
    sizes = _cohort_rows(app, filters, granularity, SPLITS[split], covered)
    if covered:
        # The revenue from the line on, and the installs after the covered days, are on days not over.
        rows = [
            (_cohort_of(day, granularity), *rest)
            for day, *rest in _aggregate_revenue(app, filters, covered, SPLITS[split])
        ]
    else:
        params = {**_params(app, filters), "horizon": horizon}
        rows = clickhouse.execute(_revenue_sql(filters, granularity, SPLITS[split]), params, tag="cohorts.ltv").rows
    daily = money_totals(
        target=app.currency,
        amounts=[
            ((*key, n), day, currency, decimal.Decimal(repr(round(amount, 6))))
            for *key, n, day, currency, amount in rows
        ],
    )
    today = _today(app)
    out = []
    for key, cohort in sizes.items():
        cumulative = Money(currency=app.currency)
        points = []
        for n in range(horizon + 1):
            day_money = daily.get((*key, n))
            if day_money is not None:
                cumulative.add(day_money)
            if cohort["lastInstallDay"] + dt.timedelta(days=n + 1) > today:
                points.append({"day": n, "revenue": None, "ltv": None})
                continue
            numbers = {
                "cumulativeRevenue": None if cumulative.unconverted else cumulative.total,
                "installs": cohort["installs"],
            }
            points.append({"day": n, "revenue": cumulative.as_dict(), "ltv": derive(numbers, "ltv")["ltv"]})
        out.append({**_dimensions(split, key), "installs": round(cohort["installs"], 6), "points": points})
    return _ordered(out, split)


COHORT_COLUMNS = (*(f"roasD{n}" for n in ROAS_DAYS), *(f"retentionD{n}" for n in RETENTION_DAYS))


def _amount(money: dict | None) -> decimal.Decimal | None:
    """A money dict of a report row as a number for ratios: none when absent or partly unconverted."""
    return decimal.Decimal(money["amount"]) if money is not None and not money["unconverted"] else None


def campaign_days_not_over(*, app: App, filters: Filters) -> dict[int, dt.date]:
    """The days n of the campaign report's cohort columns not over yet for the installs of the
    period's last day (their columns are null), each with the first day, in the app's time zone, on
    which it will be."""
    last_day = (filters.until - dt.timedelta(microseconds=1)).astimezone(zoneinfo.ZoneInfo(app.timezone)).date()
    known_from = {n: last_day + dt.timedelta(days=n + 1) for n in sorted({*ROAS_DAYS, *RETENTION_DAYS})}
    return {n: day for n, day in known_from.items() if day > _today(app)}


def campaign_performance(*, app: App, filters: Filters, levels: tuple[str | None, ...]) -> dict[str | None, list[dict]]:
    """The campaign report (``analytics.performance``) with, in every row of every level, ROAS D0, D7
    and D30 (the revenue of the row's installs up to day n after install per unit of the row's cost)
    and retention D1, D7 and D30 (the row's installs active on day n after install, per install).
    A day n counts only once it is over for the period's last day; null before. The cohort numbers
    are read once at the ad level and rolled up like the rest of the row, so levels add up."""
    out = analytics.performance(app=app, filters=filters, levels=levels)
    not_over = campaign_days_not_over(app=app, filters=filters)
    over = {n: n not in not_over for n in (*ROAS_DAYS, *RETENTION_DAYS)}
    params = {
        **_params(app, filters),
        "followed_until": filters.until + dt.timedelta(days=max(RETENTION_DAYS) + 1),
        "horizon": max(ROAS_DAYS),
    }
    # A period that ends today has no day over yet: nothing to read. Once one is, the period is whole
    # days before today, which the pre-aggregate answers for unless something since the refresh moved
    # its line back.
    covered = _covered(app, filters)
    if covered and covered.agg_to != filters.until:
        covered = None
    active, revenue = [], []
    if any(over[n] for n in RETENTION_DAYS):
        active = (
            attributed_daily.retained(
                app, filters, covered, step=1, group=_aggregate_group(DIMENSIONS), ages=RETENTION_DAYS
            )
            if covered
            else clickhouse.execute(
                _retained_sql(filters, "day", DIMENSIONS), params, tag="cohorts.campaign_retention"
            ).rows
        )
    if any(over[n] for n in ROAS_DAYS):
        revenue = (
            _aggregate_revenue(app, filters, covered, DIMENSIONS)
            if covered
            else clickhouse.execute(
                _revenue_sql(filters, "day", DIMENSIONS), params, tag="cohorts.campaign_revenue"
            ).rows
        )
    for level, rows in out.items():
        depth = LEVELS[level] if level else 0
        retained: dict[tuple, float] = defaultdict(float)
        for install_day, *dimensions, active_day, credit in active:
            n = (active_day - install_day).days
            if n in RETENTION_DAYS:
                retained[(tuple(value or "" for value in dimensions[:depth]), n)] += credit
        money = money_totals(
            target=app.currency,
            amounts=[
                (
                    (tuple(value or "" for value in dimensions[:depth]), n),
                    day,
                    currency,
                    decimal.Decimal(repr(round(amount, 6))),
                )
                for _, *dimensions, age, day, currency, amount in revenue
                for n in ROAS_DAYS
                if age <= n
            ],
        )
        for row in rows:
            key = tuple(row[name] for name in DIMENSIONS[:depth])
            numbers = {"installs": row["installs"], "cost": _amount(row["cost"])}
            for n in ROAS_DAYS:
                revenue_n = money.get((key, n), Money(currency=app.currency))
                numbers[f"revenueD{n}"] = revenue_n.total if over[n] and not revenue_n.unconverted else None
            for n in RETENTION_DAYS:
                numbers[f"retainedD{n}"] = round(retained[(key, n)], 6) if over[n] else None
            derived = derive(numbers, *COHORT_COLUMNS)
            row.update({name: derived[name] for name in COHORT_COLUMNS})
    return out
