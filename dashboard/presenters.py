"""What the report selectors' rows look like on a page: KPI tiles with their change against the
previous period, money shown in the app's currency with what could not be converted listed apart,
and the columns of a performance table. Labels and definitions come from ``metrics``; nothing here
computes a number the API does not give.
"""

import datetime as dt
from dataclasses import dataclass

from .metrics import METRICS, MONEY, RATIO

NO_VALUE = "\N{EN DASH}"
NOT_OVER = "\N{EM DASH}"  # a cohort column whose day n after install is not over yet: no value so far


def money_value(money: dict | None) -> float | None:
    """A Money dict (``currency.Money.as_dict``) as the number a chart or tile shows: its converted amount."""
    return None if money is None else float(money["amount"])


def display(metric: str, value, currency: str) -> str:
    """A metric's value as text: counts as whole numbers (credit-weighted ones to two decimals),
    money to two decimals, ratios as percentages; NO_VALUE when the report cannot give it."""
    if value is None:
        return NO_VALUE
    unit = METRICS[metric].unit
    if unit == MONEY:
        amount = money_value(value) if isinstance(value, dict) else float(value)
        return f"{amount:,.2f}"
    if unit == RATIO:
        return f"{float(value):.0%}" if metric.startswith("roas") else f"{float(value):.1%}"
    count = float(value)
    return f"{count:,.0f}" if count == round(count) else f"{count:,.2f}"


def unconverted(value) -> str:
    """The amounts a Money dict could not convert (no rate that day), as "GBP 12.0000; JPY 300.0000"."""
    if not isinstance(value, dict):
        return ""
    return "; ".join(f"{part['currency']} {part['amount']}" for part in value["unconverted"])


def number(value) -> float | None:
    """A metric's value as a float (money: its converted amount), None when unknown."""
    if value is None:
        return None
    return money_value(value) if isinstance(value, dict) else float(value)


def _unknown_why(name: str, *, cost_applies: bool) -> str:
    """Why a metric can have no value: a ratio whose denominator is zero, no cost imported, else a
    filter it ignores."""
    ratio = METRICS[name].ratio
    if ratio:
        return f"no {METRICS[ratio[1]].label.lower()} to divide by"
    if name == "cost" and cost_applies:
        return "no cost imported for the period"
    return "not available under these filters"


def tiles(*, current: dict, previous: dict, names: tuple[str, ...], currency: str, cost_applies: bool) -> list[dict]:
    """One tile per metric of ``analytics.overview``: its value, its change against the previous
    period as a fraction (None when the previous period had none, or either is unknown).
    ``cost_applies``: the filters leave cost in (``Filters.cost_applies``), so a null cost means none
    was imported."""
    out = []
    for name in names:
        metric = METRICS[name]
        now, before = number(current[name]), number(previous[name])
        label = f"{metric.label} ({currency})" if metric.unit == MONEY else metric.label
        out.append(
            {
                "metric": name,
                "label": label,
                "help": metric.definition,
                "value": "" if now is None else now,
                "display": display(name, current[name], currency),
                "unconverted": unconverted(current[name]),
                "change": (now - before) / before if now is not None and before else None,
                "had_before": before is not None and before != 0,
                "known": now is not None,
                "unknown_why": _unknown_why(name, cost_applies=cost_applies),
            }
        )
    return out


@dataclass(frozen=True)
class Column:
    """A column of a performance table: the metric, its header, and whether the row value is money."""

    metric: str
    label: str
    help: str
    money: bool


def columns(names: tuple[str, ...], currency: str) -> list[Column]:
    out = []
    for name in names:
        metric = METRICS[name]
        money = metric.unit == MONEY
        label = f"{metric.label} ({currency})" if money else metric.label
        out.append(Column(metric=name, label=label, help=metric.definition, money=money))
    return out


def cells(row: dict, table_columns: list[Column], currency: str, not_over: dict[str, str] | None = None) -> list[dict]:
    """A row's cells in the columns' order: the text shown, the raw number (for sorting and tests)
    and the unconverted money beside it. ``not_over`` names the columns with no value yet (a day n
    after install not over), each with why: such a cell shows NOT_OVER and that reason, unless the ratio
    has no denominator in the row (ROAS without cost imported), which no later day gives it."""
    not_over = not_over or {}
    out = []
    for column in table_columns:
        value = row[column.metric]
        ratio = METRICS[column.metric].ratio
        never = ratio is not None and ratio[1] in row and row[ratio[1]] is None
        pending = value is None and column.metric in not_over and not never
        out.append(
            {
                "metric": column.metric,
                "text": NOT_OVER if pending else display(column.metric, value, currency),
                "value": "" if number(value) is None else number(value),
                "unconverted": unconverted(value),
                "not_over": not_over[column.metric] if pending else "",
            }
        )
    return out


def day_label(day: dt.date) -> str:
    """A day as the pages write it: "Dec 6"."""
    return f"{day:%b} {day.day}"


def bucket_label(start: str, interval: str) -> str:
    """A series bucket's start as an axis label: "Dec 6, 14:00" for hours, "Dec 6" for days and weeks."""
    if interval == "hour":
        moment = dt.datetime.fromisoformat(start)
        return f"{day_label(moment)}, {moment:%H:%M}"
    return day_label(dt.date.fromisoformat(start))
