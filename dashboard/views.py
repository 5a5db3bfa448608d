"""The report pages. Each view authorizes as the API does (``accounts.rbac.pages``), reads the report
selectors (never SQL of its own), shapes their rows for the template and builds chart options with
``charts``. A report that ClickHouse cannot answer right now is a 503 page that says so.
"""

import datetime as dt
import zoneinfo
from functools import wraps
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from accounts.rbac import pages
from apps_registry.models import AttributionSettings
from apps_registry.services import settings_current
from core.clickhouse.errors import ConnectionLost, EmbeddedStoreLocked, QueryTimeout

from . import analytics, charts, explanation, funnels, live_events, presenters
from . import cohorts as cohort_reports
from .credits import ORGANIC
from .filters import MODEL_NAMES, BadFilters, Filters, report_filters
from .metrics import METRICS, RETENTION_DAYS, ROAS_DAYS
from .presenters import day_label

TOP_SOURCES = 10
TOP_SERIES = 6  # media sources drawn side by side in a histogram; more would be unreadable
LIVE_EVENTS = 50
LIVE_WINDOW = dt.timedelta(hours=24)
LIVE_REFRESH_SECONDS = 5
UNAVAILABLE = (ConnectionLost, QueryTimeout, EmbeddedStoreLocked)


def report_page(view):
    """The report's filters from the URL (a 400 page naming the bad ones), and a 503 page when
    ClickHouse cannot answer now."""

    @wraps(view)
    def wrapper(request: HttpRequest, page: pages.AppPage, *args, **kwargs) -> HttpResponse:
        try:
            filters = report_filters(
                data=request.GET,
                default_model=settings_current(app=page.app).default_model,
                time_zone=page.app.timezone,
            )
        except BadFilters as bad:
            return render(request, "pages/400.html", {"page": page, "form": bad.form}, status=400)
        try:
            return view(request, page, filters, *args, **kwargs)
        except UNAVAILABLE:
            return render(request, "pages/503.html", {"page": page}, status=503)

    return wrapper


OVERVIEW_TILES = ("installs", "revenue", "cost", "roas", "activeUsers", "totalEvents")
HOURLY_UP_TO = dt.timedelta(days=2)
DAILY_UP_TO = dt.timedelta(days=92)


def series_interval(filters: Filters) -> str:
    """Hours for a day or two, days up to a quarter, weeks beyond: a readable number of points."""
    span = filters.until - filters.since
    return "hour" if span <= HOURLY_UP_TO else "day" if span <= DAILY_UP_TO else "week"


def _series_charts(app, points: list[dict], interval: str) -> dict[str, charts.Chart | None]:
    """Installs (non-organic and organic, stacked), revenue in the app's currency and DAU over time;
    a chart with nothing in it is its empty state."""
    categories = [presenters.bucket_label(point["start"], interval) for point in points]

    def drawn(chart: charts.Chart, *metrics: str) -> charts.Chart | None:
        return chart if any(presenters.number(point[m]) for point in points for m in metrics) else None

    return {
        "installs": drawn(
            charts.bar_chart(
                label=f"New installs per {interval}, non-organic and organic, in {app.timezone}",
                categories=categories,
                series={
                    METRICS["nonOrganicInstalls"].label: [p["nonOrganicInstalls"] for p in points],
                    METRICS["organicInstalls"].label: [p["organicInstalls"] for p in points],
                },
                stacked=True,
            ),
            "installs",
        ),
        "revenue": drawn(
            charts.line_chart(
                label=f"Purchase revenue per {interval} in {app.currency}, in {app.timezone}",
                categories=categories,
                series={METRICS["revenue"].label: [presenters.money_value(p["revenue"]) for p in points]},
                unit=app.currency,
            ),
            "revenue",
        ),
        "dau": drawn(
            charts.line_chart(
                label=f"Active users (devices, else user ids) per {interval}, in {app.timezone}",
                categories=categories,
                series={"Active users": [p["dau"] for p in points]},
            ),
            "dau",
        ),
    }


def _sources_chart(sources: list[dict], model: str) -> charts.Chart | None:
    top = [row for row in sources if row["installs"] > 0][:TOP_SOURCES]
    if not top:
        return None
    return charts.bar_chart(
        label=f"Installs per media source under the {MODEL_NAMES[model]} model",
        categories=[row["mediaSource"] for row in top],
        series={"Installs": [round(row["installs"], 2) for row in top]},
        horizontal=True,
    )


OVERVIEW_SOURCE_COLUMNS = ("installs", "revenue", "roas")


@pages.app_page(pages.DASHBOARD)
@report_page
def overview(request: HttpRequest, page: pages.AppPage, filters: Filters) -> HttpResponse:
    app = page.app
    interval = series_interval(filters)
    try:
        points, activity_now = analytics.series_with_activity(app=app, filters=filters, interval=interval)
        series_refused = None
    except analytics.NotApplicable as refused:
        points, activity_now, series_refused = [], None, refused.message
    kpis = analytics.overview(app=app, filters=filters, levels=("source",), activity_now=activity_now)
    sources = kpis["rows"]["source"][:TOP_SOURCES]
    source_columns = presenters.columns(OVERVIEW_SOURCE_COLUMNS, app.currency)
    context = {
        "page": page,
        "nav": "overview",
        "filters": filters,
        "report_query": filters.query,
        "tiles": presenters.tiles(
            current=kpis["current"],
            previous=kpis["previous"],
            names=OVERVIEW_TILES,
            currency=app.currency,
            cost_applies=filters.cost_applies,
        ),
        "interval": interval,
        "series_charts": _series_charts(app, points, interval),
        "series_refused": series_refused,
        "series_unconverted": [p for p in points if p["revenue"]["unconverted"]],
        "sources_chart": _sources_chart(sources, filters.model),
        "source_columns": source_columns,
        "sources": [
            {"mediaSource": row["mediaSource"], "cells": presenters.cells(row, source_columns, app.currency)}
            for row in sources
        ],
        "model_name": MODEL_NAMES[filters.model],
    }
    return render(request, "dashboard/overview.html", context)


CAMPAIGN_COLUMNS = (
    "impressions",
    "clicks",
    "installs",
    "payingUsers",
    "revenue",
    "cost",
    "ecpi",
    "arpu",
    "roas",
    *cohort_reports.COHORT_COLUMNS,
)
# A cohort column -> the metric it follows by day since install (roasD7 -> roas): headed together.
COHORT_GROUPS = {
    f"{metric}D{n}": metric for metric, days in (("roas", ROAS_DAYS), ("retention", RETENTION_DAYS)) for n in days
}
assert set(COHORT_GROUPS) == set(cohort_reports.COHORT_COLUMNS)
LEVEL_NAMES = {"source": "media source", "campaign": "campaign", "adset": "ad set", "ad": "ad"}
CAMPAIGN_SORTS = [(f"{sign}{name}", f"{sign}{name}") for name in ("name", *CAMPAIGN_COLUMNS) for sign in ("", "-")]
TOP_CHART_ROWS = 10
# Rows of the campaign table on the page, by its sort, unless all are asked for (the CSV has every row).
SHOWN_ROWS = 100
NEXT_LEVEL = {"source": "campaign", "campaign": "adset", "adset": "ad"}


class CampaignsForm(forms.Form):
    """The campaign page's own parameters beside the report filters: the level shown and the sort."""

    level = forms.ChoiceField(choices=[(level, name) for level, name in LEVEL_NAMES.items()], required=False)
    sort = forms.ChoiceField(choices=CAMPAIGN_SORTS, required=False)
    rows = forms.ChoiceField(choices=[("all", "every row")], required=False)


def _row_name(row: dict, level: str) -> str:
    return row[analytics.DIMENSIONS[analytics.LEVELS[level] - 1]] or "(none)"


def _sorted_rows(rows: list[dict], sort: str, level: str) -> list[dict]:
    """Rows by a column, the unknown values (a ratio over zero) last either way; ties by name."""
    name, descending = sort.lstrip("-"), sort.startswith("-")
    if name == "name":
        return sorted(rows, key=lambda row: _row_name(row, level).lower(), reverse=descending)
    known = [row for row in rows if presenters.number(row[name]) is not None]
    unknown = [row for row in rows if presenters.number(row[name]) is None]
    known.sort(key=lambda row: _row_name(row, level).lower())
    known.sort(key=lambda row: presenters.number(row[name]), reverse=descending)
    return known + unknown


def _drill(row: dict, level: str, here: QueryDict) -> str | None:
    """The link one level down from a row: its campaigns, ad sets or ads (the ads of an ad set are
    those of its campaign, by ad set: the filters name no ad set). None for an ad, or organic."""
    if level == "ad" or row["mediaSource"] == ORGANIC:
        return None
    query = here.copy()
    query["level"] = NEXT_LEVEL[level]
    query["media_source"] = row["mediaSource"]
    if level != "source":
        query["campaign"] = row["campaign"]
    return "?" + query.urlencode()


def _breadcrumbs(level: str, filters: Filters, here: QueryDict) -> list[dict]:
    """Where the drill-down stands: every media source, then the source and campaign it narrowed to;
    each a link back up to that level (the last is the current view)."""
    up = here.copy()
    for name in ("media_source", "campaign"):
        up.pop(name, None)
    up["level"] = "source"
    crumbs = [{"label": "All media sources", "href": "?" + up.urlencode()}]
    if filters.media_source:
        up["media_source"], up["level"] = filters.media_source, "campaign"
        crumbs.append({"label": filters.media_source, "href": "?" + up.urlencode()})
    if filters.campaign:
        up["campaign"], up["level"] = filters.campaign, "adset"
        crumbs.append({"label": filters.campaign, "href": "?" + up.urlencode()})
    return crumbs


def _campaign_charts(
    rows: list[dict], level: str, currency: str
) -> tuple[charts.Chart | None, charts.Chart | None, str]:
    """Installs, and revenue beside cost, for the rows with the most installs; the money chart's title."""
    top = sorted(rows, key=lambda row: -row["installs"])[:TOP_CHART_ROWS]
    names = [_row_name(row, level) for row in top]
    plural = f"{LEVEL_NAMES[level]}s"
    installs = charts.bar_chart(
        label=f"Installs of the {len(top)} {plural} with the most installs",
        categories=names,
        series={METRICS["installs"].label: [row["installs"] for row in top]},
        horizontal=True,
    )
    costs = [presenters.money_value(row["cost"]) for row in top]
    # No cost imported for any of them: no cost series (an empty one would still be in the legend), and
    # the chart's title says so.
    cost_known = any(cost is not None for cost in costs)
    money = charts.bar_chart(
        label=f"Revenue{' and cost' if cost_known else ''} in {currency} of the same {plural}",
        categories=names,
        series={
            METRICS["revenue"].label: [presenters.money_value(row["revenue"]) for row in top],
            **({METRICS["cost"].label: costs} if cost_known else {}),
        },
        unit=currency,
        horizontal=True,
    )
    has_money = any(presenters.money_value(row["revenue"]) or presenters.money_value(row["cost"]) for row in top)
    money_title = "Revenue and cost" if cost_known else "Revenue (no cost imported)"
    return (installs if any(row["installs"] for row in top) else None), (money if has_money else None), money_title


def _column_groups(headers: list[dict]) -> list[dict]:
    """The header row above the column names: a column on its own (``column``), or a cohort metric's
    days (ROAS D0, D7, D30) under one heading, so that the day columns stay narrow."""
    groups: list[dict] = []
    for header in headers:
        metric = COHORT_GROUPS.get(header["column"].metric)
        if metric is None:
            groups.append({"column": header})
        elif groups and groups[-1].get("metric") == metric:
            groups[-1]["span"] += 1
        else:
            groups.append({"metric": metric, "label": f"{METRICS[metric].label} by day", "span": 1})
    return groups


def _cohort_columns_not_over(days: dict[int, dt.date]) -> dict[str, str]:
    """The campaign report's cohort columns (ROAS Dn, retention Dn) with no value yet, each with why."""
    out = {}
    for n, known_from in days.items():
        why = (
            f"Not known yet: day {n} after install is not over for the period's last installs "
            f"({day_label(known_from)})."
        )
        out.update({name: why for name in (f"roasD{n}", f"retentionD{n}") if name in cohort_reports.COHORT_COLUMNS})
    return out


def _every_day_over(app, filters: Filters, here: QueryDict) -> dict:
    """A link to a period as long as this one that ended long enough ago for every cohort column."""
    longest = max(*ROAS_DAYS, *RETENTION_DAYS)
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(app.timezone)).date()
    last = today - dt.timedelta(days=longest + 1)
    first = last - dt.timedelta(days=filters.days - 1)
    query = here.copy()
    query.pop("days", None)
    query["date_from"], query["date_to"] = first.isoformat(), last.isoformat()
    return {
        "href": "?" + query.urlencode(),
        "label": f"{day_label(first)} \N{EN DASH} {day_label(last)}",
    }


@pages.app_page(pages.ANALYTICS)
@report_page
def campaigns(request: HttpRequest, page: pages.AppPage, filters: Filters) -> HttpResponse:
    """The drill-down: media source -> campaign -> ad set -> ad, with charts, sortable columns and CSV."""
    form = CampaignsForm(data=request.GET)
    if not form.is_valid():
        return render(request, "pages/400.html", {"page": page, "form": form}, status=400)
    level, sort = form.cleaned_data["level"] or "source", form.cleaned_data["sort"] or "-installs"
    app = page.app
    both = cohort_reports.campaign_performance(app=app, filters=filters, levels=(level, None))
    rows = _sorted_rows(both[level], sort, level)
    columns = presenters.columns(CAMPAIGN_COLUMNS, app.currency)
    days_not_over = cohort_reports.campaign_days_not_over(app=app, filters=filters)
    not_over = _cohort_columns_not_over(days_not_over)
    sort_name, descending = sort.lstrip("-"), sort.startswith("-")
    here = QueryDict(filters.query[1:], mutable=True)
    here["level"] = level
    here["sort"] = sort
    every_row = here.copy()
    every_row["rows"] = "all"
    keep = {"level": level, "sort": sort}
    if form.cleaned_data["rows"]:
        here["rows"] = keep["rows"] = "all"
    shown = rows if form.cleaned_data["rows"] else rows[:SHOWN_ROWS]

    def sort_link(name: str) -> dict:
        """A column header's link: a first click sorts names up and numbers down; a second reverses."""
        query = here.copy()
        if name == sort_name:
            query["sort"] = name if descending else f"-{name}"
        else:
            query["sort"] = name if name == "name" else f"-{name}"
        state = ("descending" if descending else "ascending") if name == sort_name else None
        return {"href": "?" + query.urlencode(), "aria_sort": state}

    headers = [
        {
            "column": column,
            "grouped": column.metric in COHORT_GROUPS,
            "day": column.metric.removeprefix(COHORT_GROUPS.get(column.metric, "")),
            **sort_link(column.metric),
        }
        for column in columns
    ]
    dimensions = [LEVEL_NAMES[name].capitalize() for name in list(analytics.LEVELS)[: analytics.LEVELS[level]]]
    installs_chart, money_chart, money_title = _campaign_charts(rows, level, app.currency)
    csv_query = urlencode({"app_id": str(app.id), "level": level}) + "&" + filters.query[1:]
    context = {
        "page": page,
        "nav": "campaigns",
        "filters": filters,
        "report_query": filters.query,
        "level": level,
        "level_name": LEVEL_NAMES[level],
        "keep": keep,
        "breadcrumbs": _breadcrumbs(level, filters, here),
        "dimensions": dimensions,
        "name_sort": sort_link("name"),
        "columns": headers,
        "column_groups": _column_groups(headers),
        "rows": [
            {
                "names": [row[d] or "(none)" for d in analytics.DIMENSIONS[: analytics.LEVELS[level]]],
                "key": _row_name(row, level),
                "drill": _drill(row, level, here),
                "cells": presenters.cells(row, columns, app.currency, not_over),
            }
            for row in shown
        ],
        "row_count": len(rows),
        "every_row": "?" + every_row.urlencode() if len(shown) < len(rows) else None,
        "total": presenters.cells(both[None][0], columns, app.currency, not_over),
        "not_over": ", ".join(f"D{n} from {day_label(known_from)}" for n, known_from in days_not_over.items()),
        "every_day_over": _every_day_over(app, filters, here) if days_not_over else None,
        "installs_chart": installs_chart,
        "money_chart": money_chart,
        "money_title": money_title,
        "csv_url": f"{reverse('analytics-campaigns-csv')}?{csv_query}",
        "model_name": MODEL_NAMES[filters.model],
    }
    return render(request, "dashboard/campaigns.html", context)


def _by_model(row: dict) -> dict[str, dict]:
    return {result["model"]: result for result in row["models"]}


def _models_chart(rows: list[dict], metric: str, currency: str) -> charts.Chart | None:
    """One bar per model, grouped by media source, for the sources with the most installs."""
    top = rows[:TOP_CHART_ROWS]
    value = presenters.money_value if metric == "revenue" else float
    series = {name: [value(_by_model(row)[model][metric]) for row in top] for model, name in MODEL_NAMES.items()}
    if not any(any(values) for values in series.values()):
        return None
    what = f"Revenue in {currency}" if metric == "revenue" else "Installs"
    return charts.bar_chart(
        label=f"{what} per media source under each of the six attribution models",
        categories=[row["mediaSource"] for row in top],
        series=series,
        unit=currency if metric == "revenue" else "",
        horizontal=True,
    )


@pages.app_page(pages.ANALYTICS)
@report_page
def models(request: HttpRequest, page: pages.AppPage, filters: Filters) -> HttpResponse:
    """The six attribution models side by side per media source: installs and the revenue they brought."""
    app = page.app
    rows = analytics.model_comparison(app=app, filters=filters)
    del filters.form.fields["model"]  # every model is shown; the chosen one travels on to the other pages
    context = {
        "page": page,
        "nav": "models",
        "filters": filters,
        "report_query": filters.query,
        "keep": {"model": filters.model},
        "model_names": list(MODEL_NAMES.values()),
        "rows": [
            {
                "mediaSource": row["mediaSource"],
                "models": [
                    {
                        "model": model,
                        "installs": result["installs"],
                        "installs_text": presenters.display("installs", result["installs"], app.currency),
                        "revenue": presenters.money_value(result["revenue"]),
                        "revenue_text": presenters.display("revenue", result["revenue"], app.currency),
                        "unconverted": presenters.unconverted(result["revenue"]),
                    }
                    for model, result in ((m, _by_model(row)[m]) for m in MODEL_NAMES)
                ],
            }
            for row in rows
        ],
        "installs_chart": _models_chart(rows, "installs", app.currency),
        "revenue_chart": _models_chart(rows, "revenue", app.currency),
    }
    return render(request, "dashboard/models.html", context)


FRAUD_REASONS = {"click_injection": "Click injection", "click_flooding": "Click flooding"}
FRAUD_STATUSES = {"flagged": "flagged, kept", "rejected": "rejected, credited elsewhere"}
UNKNOWN_SOURCE = "(unknown)"


def _ctit_bucket(row: dict) -> str:
    """A click-to-install bucket as a person reads it: "< 10 s", "10 min to 1 h" (an en dash
    between), "≥ 7 d"."""
    low, high = row["fromSeconds"], row["toSeconds"]
    if not low:
        return f"< {_duration(high)}"
    if high is None:
        return f"\N{GREATER-THAN OR EQUAL TO} {_duration(low)}"
    return f"{_duration(low)} \N{EN DASH} {_duration(high)}"


def _ctit_table(rows: list[dict]) -> tuple[list[str], list[dict]]:
    """Every bucket (in order, empty ones too) and, per media source, its installs in each."""
    bounds = (0, *analytics.CTIT_BOUNDS)
    buckets = [
        {"fromSeconds": low, "toSeconds": bounds[n + 1] if n + 1 < len(bounds) else None}
        for n, low in enumerate(bounds)
    ]
    counts: dict[str, dict[int, int]] = {}
    for row in rows:
        counts.setdefault(row["mediaSource"], {})[row["fromSeconds"]] = row["installs"]
    sources = sorted(counts, key=lambda source: (-sum(counts[source].values()), source))
    return [_ctit_bucket(bucket) for bucket in buckets], [
        {"mediaSource": source, "installs": [counts[source].get(bucket["fromSeconds"], 0) for bucket in buckets]}
        for source in sources
    ]


@pages.app_page(pages.ANALYTICS)
@report_page
def fraud(request: HttpRequest, page: pages.AppPage, filters: Filters) -> HttpResponse:
    """Flagged installs per source and reason, and the click-to-install time histogram per source."""
    app = page.app
    try:
        flagged, ctit, refused = (
            analytics.fraud(app=app, filters=filters),
            analytics.click_to_install_times(app=app, filters=filters),
            None,
        )
    except analytics.NotApplicable as error:
        flagged, ctit, refused = [], [], error.message
    buckets, histogram = _ctit_table(ctit)
    del filters.form.fields["model"]  # the fraud report is the engine's decision, under no model
    by_source: dict[str, dict[str, int]] = {}
    for row in flagged:
        reasons = by_source.setdefault(row["mediaSource"] or UNKNOWN_SOURCE, {})
        reasons[row["reason"]] = reasons.get(row["reason"], 0) + row["installs"]
    sources = sorted(by_source, key=lambda source: (-sum(by_source[source].values()), source))[:TOP_CHART_ROWS]
    reasons = sorted({reason for counts in by_source.values() for reason in counts})
    context = {
        "page": page,
        "nav": "fraud",
        "filters": filters,
        "report_query": filters.query,
        "keep": {"model": filters.model},
        "refused": refused,
        "flagged": [
            {
                **row,
                "source": row["mediaSource"] or UNKNOWN_SOURCE,
                "reason_name": FRAUD_REASONS.get(row["reason"], row["reason"]),
                "status_name": FRAUD_STATUSES.get(row["status"], row["status"]),
            }
            for row in flagged
        ],
        "flagged_chart": charts.bar_chart(
            label="Flagged installs per media source of the flagged click, by reason",
            categories=sources,
            series={FRAUD_REASONS.get(r, r): [by_source[source].get(r, 0) for source in sources] for r in reasons},
            horizontal=True,
            stacked=True,
        )
        if flagged
        else None,
        "buckets": buckets,
        "histogram": histogram,
        "ctit_chart": charts.bar_chart(
            label="New installs won by a click, per click-to-install time, per media source",
            categories=buckets,
            series={row["mediaSource"]: row["installs"] for row in histogram[:TOP_SERIES]},
            every_label=True,
        )
        if histogram
        else None,
        "min_ctit_seconds": settings_current(app=app).fraud_min_ctit_seconds,
    }
    return render(request, "dashboard/fraud.html", context)


def _percent(fraction: float | None) -> str:
    return "" if fraction is None else f"{fraction:.1%}"


def _step_rows(steps: list[dict]) -> list[dict]:
    return [
        {
            **step,
            "from_previous": _percent(step["conversionFromPrevious"]),
            "from_first": _percent(step["conversionFromFirst"]),
        }
        for step in steps
    ]


def _step_pickers(chosen: list[str], names: list[str]) -> tuple[list[tuple[str, str]], list[dict]]:
    """The step choices (the new install first, then the app's event names, then any chosen step not
    among them) and one select per chosen step, plus one to add a step while there is room."""
    choices = [(funnels.INSTALL, "install (new install)")]
    choices += [(name, name) for name in [*names, *chosen] if name != funnels.INSTALL]
    choices = list(dict.fromkeys(choices))
    pickers = [{"label": f"Step {n + 1}", "value": name} for n, name in enumerate(chosen)]
    while len(pickers) < funnels.MIN_STEPS:
        pickers.append({"label": f"Step {len(pickers) + 1}", "value": ""})
    if len(chosen) >= funnels.MIN_STEPS and len(chosen) < funnels.MAX_STEPS:
        pickers.append({"label": "Add a step", "value": ""})
    return choices, pickers


@pages.app_page(pages.ANALYTICS)
@report_page
def funnel(request: HttpRequest, page: pages.AppPage, filters: Filters) -> HttpResponse:
    """Pick the steps, see the funnel and each step's conversion; everything in the URL."""
    form = funnels.FunnelForm(data=request.GET if "steps" in request.GET else None)
    chosen = funnels.StepsField().to_python(request.GET.getlist("steps"))[: funnels.MAX_STEPS]
    result, status = None, 200
    if form.is_bound and form.is_valid():
        query = form.cleaned_data
        result = funnels.funnel(
            app=page.app, filters=filters, steps=query["steps"], window_days=query["window"], split=query["split"]
        )
    elif form.is_bound:
        status = 400
    valid = form.cleaned_data if form.is_bound else {}  # an invalid form keeps its valid fields
    window, split = valid.get("window") or funnels.DEFAULT_WINDOW_DAYS, valid.get("split", "")
    choices, pickers = _step_pickers(chosen, funnels.event_names(app=page.app, until=filters.until))
    total = result["total"] if result else []
    chart = None
    if total and total[0]["devices"]:
        described = ", ".join(f"{step['step']} {step['devices']:g}" for step in total)
        # Bars, not a funnel's trapezoids: a width is the step's count, so an unchanged count looks unchanged.
        chart = charts.bar_chart(
            label=f"Devices per funnel step: {described}",
            categories=[step["step"] for step in total],
            series={"Devices": [round(step["devices"], 2) for step in total]},
            horizontal=True,
            labels=[
                f"{step['devices']:g}" + (f" · {step['from_first']} of step 1" if step["from_first"] else "")
                for step in _step_rows(total)
            ],
        )
    context = {
        "page": page,
        "nav": "funnels",
        "filters": filters,
        "report_query": filters.query,
        "form": form,
        "choices": choices,
        "pickers": pickers,
        "windows": list(funnels.WINDOW_DAYS),
        "window": window,
        "splits": funnels.SPLITS,
        "split": split,
        "steps": _step_rows(total),
        "sources": [{**row, "steps": _step_rows(row["steps"])} for row in (result or {}).get("rows") or []],
        "chart": chart,
        "csv_query": f"app_id={page.app.id}&{request.GET.urlencode()}",
        "model_name": MODEL_NAMES[filters.model],
    }
    return render(request, "dashboard/funnels.html", context, status=status)


class ConversionLookupForm(forms.Form):
    event_id = forms.UUIDField(
        label="Event id of the install or conversion",
        required=False,
        help_text="The event_id your SDK sent, or the one shown on the live events page.",
    )
    device_id = forms.CharField(
        label="or a device id",
        required=False,
        max_length=200,
        help_text="An advertising id, vendor id or your app's device id: lists that device's conversions.",
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("event_id") and cleaned.get("device_id"):
            raise forms.ValidationError("Give an event id or a device id, not both.")
        return cleaned


DEVICE_CONVERSIONS = 100


def _duration(seconds: float) -> str:
    """A person's reading of a duration: 45 s, 12 min, 3 h 5 min, 2 d 4 h."""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes:.0f} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours:.0f} h {minutes:.0f} min" if minutes else f"{hours:.0f} h"
    days, hours = divmod(hours, 24)
    return f"{days:.0f} d {hours:.0f} h" if hours else f"{days:.0f} d"


def _story(story: dict) -> dict:
    """The explanation (``explanation.conversion_explanation``) shaped for the page: the touches and
    the conversion in time order, the winning touch, and each model's credit per touch of the path."""
    decision = story["decision"]
    touches = {}
    for candidate in story["candidates"]:
        touches[candidate["touchId"]] = {
            **candidate,
            "kind": "touch",
            "at": dt.datetime.fromisoformat(candidate["time"]),
            "match": explanation.named(candidate["matchType"]),
            "also": [explanation.named(tier) for tier in candidate["matchedBy"] if tier != candidate["matchType"]],
            "before": _duration(candidate["secondsBeforeConversion"]),
            "window": _duration(candidate["windowSeconds"]),
            "winner": candidate["touchId"] == decision["touchId"],
        }
    conversion = {"kind": "conversion", "at": dt.datetime.fromisoformat(story["conversion"]["time"])}
    timeline = sorted([*touches.values(), conversion], key=lambda item: (item["at"], item["kind"] == "conversion"))
    models = story["models"]
    path = [entry["touchId"] for entry in next(iter(models.values()), [])]
    return {
        **story,
        "timeline": timeline,
        "time": conversion["at"],
        "computed": dt.datetime.fromisoformat(story["conversion"]["computedAt"]),
        "winner": touches.get(decision["touchId"]),
        "match": explanation.named(decision["matchType"]),
        "ctit": _duration(decision["ctitSeconds"]) if decision["ctitSeconds"] is not None else None,
        # The rules' windows read as the timeline's do (168 hours: 7 d).
        "windows": {
            name: _duration(story["rules"][f"{name}Hours"] * 3600)
            for name in ("clickLookback", "viewThrough", "probabilisticClick", "probabilisticView")
        },
        "fraud_policy": AttributionSettings.FraudPolicy(story["rules"]["fraudPolicy"]).label,
        "model_names": [MODEL_NAMES.get(model, model) for model in models],
        "credit_rows": [
            {
                "touch": touches.get(touch_id, {"touchId": touch_id}),
                "credits": [entries[position]["credit"] for entries in models.values()],
            }
            for position, touch_id in enumerate(path)
        ],
    }


@pages.app_page(pages.ANALYTICS)
def conversion(request: HttpRequest, page: pages.AppPage) -> HttpResponse:
    """Find a conversion by its event id and tell its attribution as a timeline; or list a device's
    conversions, each a link to its story."""
    asked = request.GET.get("event_id") or request.GET.get("device_id")
    form = ConversionLookupForm(data=request.GET if asked else None)
    story, conversions, status = None, None, 200
    if form.is_bound and not form.is_valid():
        status = 400
    elif form.is_bound:
        try:
            if form.cleaned_data["event_id"]:
                found = explanation.conversion_explanation(app=page.app, conversion_id=form.cleaned_data["event_id"])
                story = _story(found) if found is not None else None
            else:
                conversions = [
                    {**row, "match": explanation.named(row["matchType"])}
                    for row in explanation.device_conversions(
                        app=page.app, device_id=form.cleaned_data["device_id"], limit=DEVICE_CONVERSIONS
                    )
                ]
        except UNAVAILABLE:
            return render(request, "pages/503.html", {"page": page}, status=503)
    context = {
        "page": page,
        "nav": "conversion",
        "form": form,
        "story": story,
        "conversions": conversions,
        "device_conversions_limit": DEVICE_CONVERSIONS,
        "searched": form.is_bound,
    }
    return render(request, "dashboard/conversion.html", context, status=status)


@pages.app_page(pages.ANALYTICS)
def live(request: HttpRequest, page: pages.AppPage) -> HttpResponse:
    now = timezone.now()
    try:
        rows = live_events.latest_events(
            app_id=page.app.id,
            received_since=now - LIVE_WINDOW,
            oldest_timestamp=now - LIVE_WINDOW - dt.timedelta(days=settings.INGEST_MAX_PAST_DAYS),
            limit=LIVE_EVENTS,
        )
    except UNAVAILABLE:
        return render(request, "pages/503.html", {"page": page}, status=503)
    context = {
        "page": page,
        "nav": "live",
        "events": rows,
        "limit": LIVE_EVENTS,
        "refresh_seconds": LIVE_REFRESH_SECONDS,
        "conversions": {"install", "first_open", "open", "session_start"},
    }
    return render(request, "dashboard/live.html", context)


class CohortOptionsForm(forms.Form):
    granularity = forms.ChoiceField(
        label="Cohorts by", choices=[("day", "Install day (D0-D30)"), ("week", "Install week (W0-W12)")], required=False
    )
    split = forms.ChoiceField(
        label="Split by",
        choices=[("none", "No split"), ("source", "Media source"), ("campaign", "Campaign")],
        required=False,
    )


assert {value for value, _ in CohortOptionsForm.base_fields["granularity"].choices} == set(cohort_reports.GRANULARITIES)
assert {value for value, _ in CohortOptionsForm.base_fields["split"].choices} == set(cohort_reports.SPLITS)
# The periods the cohort table shows (the heatmap shows them all), and the LTV days beside them.
COHORT_TABLE_PERIODS = {"day": (0, 1, 3, 7, 14, 30), "week": (0, 1, 2, 4, 8, 12)}
COHORT_TABLE_LTV_DAYS = (7, 30)
TOP_CURVES = 8  # LTV curves drawn: the largest cohorts; more lines would be unreadable


def _cohort_label(row: dict, split: str, granularity: str, year: int, separator: str = " · ") -> str:
    """A cohort row's name: its day ("Dec 4") or week ("Week of Dec 1"), with its year when not ``year``
    (the period's last), and its media source / campaign when split."""
    start = dt.date.fromisoformat(row["cohort"])
    day = day_label(start) + (f", {start.year}" if start.year != year else "")
    names = [row[name] or "(none)" for name in cohort_reports.SPLITS[split]]
    return separator.join([day if granularity == "day" else f"Week of {day}", *([" / ".join(names)] if names else [])])


def _share(value: float | None) -> str | None:
    """A retention share as the table shows it; None: the period is not over yet."""
    return None if value is None else f"{value:.1%}"


@pages.app_page(pages.ANALYTICS)
@report_page
def cohort_report(request: HttpRequest, page: pages.AppPage, filters: Filters) -> HttpResponse:
    """Retention by install cohort as a heatmap and a table with each cohort's size, and LTV curves."""
    options = CohortOptionsForm(data={name: request.GET.get(name, "") for name in CohortOptionsForm.base_fields})
    if not options.is_valid():
        return render(request, "pages/400.html", {"page": page, "form": options}, status=400)
    granularity = options.cleaned_data["granularity"] or "day"
    split = options.cleaned_data["split"] or "none"
    app = page.app
    retention = cohort_reports.retention(app=app, filters=filters, granularity=granularity, split=split)
    curves = cohort_reports.ltv_curves(
        app=app, filters=filters, granularity=granularity, split=split, horizon=cohort_reports.LTV_DEFAULT_HORIZON
    )
    letter = granularity[0].upper()
    horizon = cohort_reports.GRANULARITIES[granularity].horizon
    year = filters.last_day.year

    def label(row: dict, separator: str = " · ") -> str:
        return _cohort_label(row, split, granularity, year, separator)

    labels = [label(row) for row in retention]
    heatmap = (
        charts.heatmap_chart(
            label=f"Retention of {len(retention)} install cohorts, {letter}0 to {letter}{horizon} after install",
            rows=[label(row, separator="\n") for row in retention],  # narrow beside the grid
            columns=[f"{letter}{n}" for n in range(horizon + 1)],
            values=[row["retention"] for row in retention],
            unit="%",
        )
        if retention
        else None
    )
    # The largest cohorts with a day over (a cohort of today has no point: a name in the legend without
    # a line), in the table's order (so is the legend).
    over = [i for i, row in enumerate(curves) if any(point["ltv"] is not None for point in row["points"])]
    drawn = sorted(over, key=lambda i: -curves[i]["installs"])[:TOP_CURVES]
    largest = [curves[i] for i in sorted(drawn)]
    ltv_chart = (
        charts.line_chart(
            label=f"LTV in {app.currency} per install by day since install, the {len(largest)} largest cohorts "
            "with a day over",
            categories=[f"D{n}" for n in range(cohort_reports.LTV_DEFAULT_HORIZON + 1)],
            series={label(row): [point["ltv"] for point in row["points"]] for row in largest},
            unit=app.currency,
        )
        if largest
        else None
    )

    def cohort(row: dict) -> tuple:
        return (row["cohort"], *(row[name] for name in cohort_reports.SPLITS[split]))

    ltv_of = {cohort(row): row["points"] for row in curves}
    table = [
        {
            "label": name,
            "installs": row["installs"],
            "retention": [_share(row["retention"][n]) for n in COHORT_TABLE_PERIODS[granularity]],
            "ltv": [ltv_of[cohort(row)][n] for n in COHORT_TABLE_LTV_DAYS],  # revenue None: not over yet
        }
        for name, row in zip(labels, retention, strict=True)
    ]
    csv_query = f"app_id={app.id}&{filters.query[1:]}&granularity={granularity}&split={split}"
    context = {
        "page": page,
        "nav": "cohorts",
        "filters": filters,
        "options": options,
        "report_query": filters.query,
        "heatmap": heatmap,
        "ltv_chart": ltv_chart,
        "table": table,
        "periods": [f"{letter}{n}" for n in COHORT_TABLE_PERIODS[granularity]],
        "ltv_days": [f"D{n}" for n in COHORT_TABLE_LTV_DAYS],
        "split": split,
        "csv_query": csv_query,
        "model_name": MODEL_NAMES[filters.model],
    }
    return render(request, "dashboard/cohorts.html", context)
