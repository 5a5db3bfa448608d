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
from events.attribution_engine import sql

from . import analytics
from .analytics import DIMENSIONS, LEVELS, SERIES_INTERVALS, _params, cost_days
from .credits import credited_ctes, installs_where
from .currency import Money, money_totals
from .filters import Filters
from .metrics import RETENTION_DAYS, ROAS_DAYS, derive


@dataclass(frozen=True)
class Granularity:
    step_days: int
    horizon: int  # the last period followed: D30 or W12


GRANULARITIES = {"day": Granularity(step_days=1, horizon=30), "week": Granularity(step_days=7, horizon=12)}
# The split parameter -> the JSON names of its dimensions; the campaign report's columns go down to the ad.
SPLITS = {"none": (), "source": ("mediaSource",), "campaign": ("mediaSource", "campaign")}
_DIMENSION_COLUMNS = {  # the JSON names of analytics.DIMENSIONS -> their columns
    "mediaSource": "n.media_source",
    "campaign": "n.campaign",
    "adset": "t.adset",
    "ad": "t.ad",
}
LTV_DEFAULT_HORIZON, LTV_MAX_HORIZON = 30, 180


def whole_days(*, app: App, filters: Filters) -> Filters:
    """The period cut to the app's whole days whose start lies in it, so that a preset period's first
    day cohort is not half a day's installs."""
    zone = zoneinfo.ZoneInfo(app.timezone)
    first, last = cost_days(filters, app.timezone)

    def start(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)

    return replace(filters, since=start(first), until=start(last + dt.timedelta(days=1)))


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
    return f"""{_members_ctes(filters, granularity, dimensions)},
active AS (
    SELECT DISTINCT a.conversion_id AS conversion_id,
           {SERIES_INTERVALS[granularity].format(column="e.timestamp")} AS period
    FROM (
        SELECT {sql.DEVICE_KEY} AS device_key, timestamp FROM events FINAL
        WHERE app_id = {{app_id:UUID}} AND timestamp >= {{since:DateTime64(3, 'UTC')}}
          AND timestamp < {{followed_until:DateTime64(3, 'UTC')}} AND device_key != ''
    ) AS e
    ASOF INNER JOIN (
        SELECT device_key, conversion_time, conversion_id FROM attributions FINAL
        WHERE app_id = {{app_id:UUID}} AND conversion_kind IN ({sql.NEW_INSTALLS})
          AND conversion_time >= {{since:DateTime64(3, 'UTC')}}
    ) AS a ON e.device_key = a.device_key AND e.timestamp >= a.conversion_time
    WHERE a.conversion_time >= {{since:DateTime64(3, 'UTC')}} AND a.conversion_time < {{until:DateTime64(3, 'UTC')}}
)
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


def _cohort_rows(app: App, filters: Filters, granularity: str, dimensions: tuple[str, ...]) -> dict[tuple, dict]:
    """Per (cohort, dimensions): the cohort's size and its last install day."""
    params = _params(app, filters)
    rows = clickhouse.execute(_sizes_sql(filters, granularity, dimensions), params, tag="cohorts.sizes").rows
    return {tuple(row[:-2]): {"installs": float(row[-2]), "lastInstallDay": row[-1]} for row in rows}


def _dimensions(split: str, key: tuple) -> dict:
    return {"cohort": key[0].isoformat(), **dict(zip(SPLITS[split], key[1:], strict=True))}


def _ordered(rows: list[dict], split: str) -> list[dict]:
    return sorted(rows, key=lambda row: (row["cohort"], -row["installs"], [row[name] for name in SPLITS[split]]))


def retention(*, app: App, filters: Filters, granularity: str, split: str) -> list[dict]:
    """The retention matrix: per cohort (and split row), its installs and, for each day (week) 0 to
    the horizon, the installs retained and their share; null for a period not over yet."""
    filters = whole_days(app=app, filters=filters)
    grain = GRANULARITIES[granularity]
    step = dt.timedelta(days=grain.step_days)
    followed_until = filters.until + (grain.horizon + 1) * step
    params = {**_params(app, filters), "followed_until": followed_until}
    sizes = _cohort_rows(app, filters, granularity, SPLITS[split])
    retained: dict[tuple, dict[int, float]] = defaultdict(dict)
    for *key, period, value in clickhouse.execute(
        _retained_sql(filters, granularity, SPLITS[split]), params, tag="cohorts.retention"
    ).rows:
        n = (period - key[0]).days // grain.step_days
        if n <= grain.horizon:
            retained[tuple(key)][n] = float(value)
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
    filters = whole_days(app=app, filters=filters)
    params = {**_params(app, filters), "horizon": horizon}
    sizes = _cohort_rows(app, filters, granularity, SPLITS[split])
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
    # A period that ends today has no day over yet: nothing to read.
    active = (
        clickhouse.execute(_retained_sql(filters, "day", DIMENSIONS), params, tag="cohorts.campaign_retention").rows
        if any(over[n] for n in RETENTION_DAYS)
        else []
    )
    revenue = (
        clickhouse.execute(_revenue_sql(filters, "day", DIMENSIONS), params, tag="cohorts.campaign_revenue").rows
        if any(over[n] for n in ROAS_DAYS)
        else []
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
