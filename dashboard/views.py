"""The report pages. Each view authorizes as the API does (``accounts.rbac.pages``), reads the report
selectors (never SQL of its own), shapes their rows for the template and builds chart options with
``charts``. A report that ClickHouse cannot answer right now is a 503 page that says so.

The campaigns, models and fraud pages are routes only until their pages of issue #18 exist; they say so.
"""

import datetime as dt
import zoneinfo
from collections import defaultdict
from functools import wraps

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.rbac import pages
from apps_registry.services import settings_current
from core.clickhouse.errors import ConnectionLost, EmbeddedStoreLocked, QueryTimeout

from . import charts, explanation, funnels, live_events, selectors
from . import cohorts as cohort_reports
from .filters import MODEL_NAMES, BadFilters, Filters, report_filters
from .metrics import METRICS

TOP_SERIES = 6  # event names drawn over time; the rest would be unreadable lines
TOP_SOURCES = 10
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


def _change(current: float, previous: float) -> dict:
    """A tile's change against the previous period: a fraction, or none when there was nothing before."""
    return {"comparable": True, "fraction": (current - previous) / previous if previous else None}


def _tiles(current: dict, both_periods: dict, currency: str) -> list[dict]:
    """KPI tiles. The previous period of an additive metric is both periods less this one; active
    users and the conversion rate are not additive, so they show no change until the reporting
    selectors take a period's end."""
    revenue, revenue_both = float(current["revenue"]), float(both_periods["revenue"])
    return [
        {
            "metric": "installs",
            "label": METRICS["installs"].label,
            "value": current["installs"],
            "change": _change(current["installs"], both_periods["installs"] - current["installs"]),
            "help": METRICS["installs"].definition,
        },
        {
            "metric": "revenue",
            "label": f"{METRICS['revenueAsSent'].label} ({currency})",
            "value": current["revenue"],
            "display": f"{revenue:,.2f}",
            "change": _change(revenue, revenue_both - revenue),
            "help": METRICS["revenueAsSent"].definition,
        },
        {
            "metric": "activeUsers",
            "label": METRICS["activeUsers"].label,
            "value": current["activeUsers"],
            "change": {"comparable": False},
            "help": METRICS["activeUsers"].definition,
        },
        {
            "metric": "totalEvents",
            "label": METRICS["totalEvents"].label,
            "value": current["totalEvents"],
            "change": _change(current["totalEvents"], both_periods["totalEvents"] - current["totalEvents"]),
            "help": METRICS["totalEvents"].definition,
        },
        {
            "metric": "conversionRate",
            "label": METRICS["conversionRate"].label,
            "value": current["conversionRate"],
            "display": f"{current['conversionRate']:.1%}",
            "change": {"comparable": False},
            "help": METRICS["conversionRate"].definition,
        },
    ]


def _events_chart(rows: list[dict], filters: Filters) -> charts.Chart | None:
    if not rows:
        return None
    first = filters.since.astimezone(dt.UTC).date()
    days = [(first + dt.timedelta(days=n)).isoformat() for n in range((filters.until.date() - first).days + 1)]
    totals: dict[str, int] = defaultdict(int)
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        totals[row["event"]] += row["count"]
        counts[(row["event"], row["day"])] = row["count"]
    names = sorted(totals, key=lambda name: (-totals[name], name))[:TOP_SERIES]
    return charts.line_chart(
        label=f"Events per day (UTC) of the {len(names)} most frequent event names, {filters.days} days",
        categories=days,
        series={name: [counts.get((name, day), 0) for day in days] for name in names},
    )


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


@pages.app_page(pages.DASHBOARD)
@report_page
def overview(request: HttpRequest, page: pages.AppPage, filters: Filters) -> HttpResponse:
    app_id = page.app.id
    current = selectors.dashboard_stats(app_id=app_id, since=filters.since, until=filters.until)
    both_periods = selectors.dashboard_stats(app_id=app_id, since=filters.previous_since, until=filters.until)
    events = selectors.events_over_time(app_id=app_id, since=filters.since, until=filters.until)
    sources = selectors.attribution_by_source(
        app_id=app_id, model=filters.model, since=filters.since, until=filters.until
    )
    context = {
        "page": page,
        "nav": "overview",
        "filters": filters,
        "report_query": filters.query,
        "tiles": _tiles(current, both_periods, page.app.currency),
        "events_chart": _events_chart(events, filters),
        "sources_chart": _sources_chart(sources, filters.model),
        "sources": sources[:TOP_SOURCES],
        "model_name": MODEL_NAMES[filters.model],
    }
    return render(request, "dashboard/overview.html", context)


REPORTS_TO_COME = {
    "campaigns": (
        "Campaigns",
        "Source → campaign → ad set → ad, with installs, cost, revenue, ROAS and eCPI under any model, "
        "sortable and downloadable as CSV.",
    ),
    "models": ("Models", "The six attribution models side by side, per media source."),
    "fraud": ("Fraud", "Flagged installs per source and reason, and the click-to-install time histogram."),
}


def report_to_come(report: str):
    title, description = REPORTS_TO_COME[report]

    @pages.app_page(pages.ANALYTICS)
    def view(request: HttpRequest, page: pages.AppPage) -> HttpResponse:
        context = {"page": page, "nav": report, "title": title, "description": description}
        return render(request, "dashboard/report_to_come.html", context)

    return view


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
        chart = charts.funnel_chart(
            label=f"Devices per funnel step: {described}",
            steps=[(s["step"], round(s["devices"], 2)) for s in total],
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
        help_text="The event_id your SDK sent, or the one shown on the live events page.",
    )


MATCH_TYPES = {
    "click_id": "click id",
    "device_click": "device-id click",
    "probabilistic_click": "probabilistic click",
    "device_impression": "device-id impression",
    "probabilistic_impression": "probabilistic impression",
    "organic": "organic",
    "reinstall": "reinstall",
}


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
            "match": MATCH_TYPES.get(candidate["matchType"], candidate["matchType"]),
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
        "winner": touches.get(decision["touchId"]),
        "match": MATCH_TYPES.get(decision["matchType"], decision["matchType"]),
        "ctit": _duration(decision["ctitSeconds"]) if decision["ctitSeconds"] is not None else None,
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
    """Find a conversion by its event id and tell its attribution as a timeline."""
    form = ConversionLookupForm(data=request.GET if "event_id" in request.GET else None)
    story, status = None, 200
    if form.is_bound and not form.is_valid():
        status = 400
    elif form.is_bound:
        try:
            found = explanation.conversion_explanation(app=page.app, conversion_id=form.cleaned_data["event_id"])
        except UNAVAILABLE:
            return render(request, "pages/503.html", {"page": page}, status=503)
        story = _story(found) if found is not None else None
    context = {"page": page, "nav": "conversion", "form": form, "story": story, "searched": form.is_bound}
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


def _cohort_label(row: dict, split: str, separator: str = " · ") -> str:
    """A cohort row's name: its day (week), and its media source / campaign when split."""
    names = [row[name] or "(none)" for name in cohort_reports.SPLITS[split]]
    return separator.join([row["cohort"], *([" / ".join(names)] if names else [])])


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
    labels = [_cohort_label(row, split) for row in retention]
    heatmap = (
        charts.heatmap_chart(
            label=f"Retention of {len(retention)} install cohorts, {letter}0 to {letter}{horizon} after install",
            rows=[_cohort_label(row, split, separator="\n") for row in retention],  # narrow beside the grid
            columns=[f"{letter}{n}" for n in range(horizon + 1)],
            values=[row["retention"] for row in retention],
            unit="%",
        )
        if retention
        else None
    )
    largest = sorted(curves, key=lambda row: -row["installs"])[:TOP_CURVES]
    ltv_chart = (
        charts.line_chart(
            label=f"LTV in {app.currency} per install by day since install, the {len(largest)} largest cohorts",
            categories=[f"D{n}" for n in range(cohort_reports.LTV_DEFAULT_HORIZON + 1)],
            series={_cohort_label(row, split): [point["ltv"] for point in row["points"]] for row in largest},
            unit=app.currency,
        )
        if largest
        else None
    )
    ltv_by_label = {_cohort_label(row, split): row["points"] for row in curves}
    table = [
        {
            "label": label,
            "installs": row["installs"],
            "retention": [_share(row["retention"][n]) for n in COHORT_TABLE_PERIODS[granularity]],
            "ltv": [ltv_by_label[label][n]["ltv"] for n in COHORT_TABLE_LTV_DAYS],
        }
        for label, row in zip(labels, retention, strict=True)
    ]
    csv_query = f"app_id={app.id}&{filters.query[1:]}&granularity={granularity}&split={split}"
    period = cohort_reports.whole_days(app=app, filters=filters)
    zone = zoneinfo.ZoneInfo(app.timezone)
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
        "first_day": period.since.astimezone(zone).date(),
        "last_day": (period.until - dt.timedelta(days=1)).astimezone(zone).date(),
        "model_name": MODEL_NAMES[filters.model],
    }
    return render(request, "dashboard/cohorts.html", context)
