"""Every report as a CSV table, in one registry: report name -> the parameters it takes beside the
app and the report filters, and the function that builds its table. Each ``.csv`` endpoint and
``manage.py export_report`` read it, so a table is built in one place; adding a report is one entry
in ``REPORTS`` (dashboard/urls.py routes ``<name>.csv`` for each entry, through ``csv_api``).

Columns are the JSON names; money is two columns, the converted amount and ``…Unconverted``; an
empty cell is null (docs/reports.md)."""

import csv
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django import forms
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from accounts.rbac.selectors import app_access
from apps_registry.models import App
from core.apis import parsed
from events.attribution_engine.rules import MODELS

from .. import analytics, cohorts, funnels
from ..filters import FIELDS, Filters
from .cohorts import CohortsQuery, LtvQuery
from .funnels import FUNNEL_PARAMETERS
from .reports import (
    ANALYTICS_PERMISSION,
    CAMPAIGN_METRICS,
    FRAUD_COLUMNS,
    REPORT_ERRORS,
    SERIES_COLUMNS,
    AppQuery,
    CampaignsQuery,
    SeriesQuery,
    _filter_parameters,
    parsed_form,
    report_filters_of,
)


@dataclass(frozen=True)
class Table:
    filename: str
    header: list[str]
    rows: Iterable[list[str]]


@dataclass(frozen=True)
class Report:
    """A report's CSV: ``query`` parses its own parameters (a DRF serializer or a Django form, the
    same class its JSON endpoint parses with); ``table(app=, filters=, query=)`` builds the table."""

    query: type[serializers.Serializer] | type[forms.Form]
    table: Callable[..., Table]
    parameters: list[OpenApiParameter] = field(default_factory=list)  # OpenAPI, for a form's parameters

    def parameter_names(self) -> set[str]:
        fields = self.query.base_fields if issubclass(self.query, forms.Form) else self.query().fields
        return set(fields) - {"app_id"}

    def parse(self, data) -> dict:
        if issubclass(self.query, forms.Form):
            return parsed_form(self.query, data)
        return parsed(self.query, data)


def money_cells(money: dict | None) -> list[str]:
    if money is None:
        return ["", ""]
    return [money["amount"], "; ".join(f"{part['currency']} {part['amount']}" for part in money["unconverted"])]


def cell(value) -> str:
    return "" if value is None else str(value)


def _campaigns(*, app: App, filters: Filters, query: dict) -> Table:
    level = query["level"]
    rows = cohorts.campaign_performance(app=app, filters=filters, levels=(level,))[level]
    dimensions = list(analytics.DIMENSIONS[: analytics.LEVELS[level]])
    money = ("revenue", "cost")
    header = [
        *dimensions,
        *(
            name
            for metric in CAMPAIGN_METRICS
            for name in ((metric, f"{metric}Unconverted") if metric in money else (metric,))
        ),
    ]
    body = (
        [
            *(row[d] for d in dimensions),
            *(
                value
                for metric in CAMPAIGN_METRICS
                for value in (money_cells(row[metric]) if metric in money else [cell(row[metric])])
            ),
        ]
        for row in rows
    )
    return Table(f"campaigns-{level}.csv", header, body)


def _series(*, app: App, filters: Filters, query: dict) -> Table:
    points = analytics.series(app=app, filters=filters, interval=query["interval"])
    header = ["start", *SERIES_COLUMNS, "revenue", "revenueUnconverted"]
    body = ([p["start"], *(p[c] for c in SERIES_COLUMNS), *money_cells(p["revenue"])] for p in points)
    return Table(f"series-{query['interval']}.csv", header, body)


def _models(*, app: App, filters: Filters, query: dict) -> Table:
    rows = analytics.model_comparison(app=app, filters=filters)
    header = [
        "mediaSource",
        *(f"{model}{column}" for model in MODELS for column in ("Installs", "Revenue", "RevenueUnconverted")),
    ]
    body = (
        [
            row["mediaSource"],
            *(
                value
                for result in row["models"]
                for value in (str(result["installs"]), *money_cells(result["revenue"]))
            ),
        ]
        for row in rows
    )
    return Table("models.csv", header, body)


def _fraud(*, app: App, filters: Filters, query: dict) -> Table:
    rows = analytics.fraud(app=app, filters=filters)
    return Table("fraud.csv", list(FRAUD_COLUMNS), ([cell(r[c]) for c in FRAUD_COLUMNS] for r in rows))


CTIT_COLUMNS = ("mediaSource", "fromSeconds", "toSeconds", "installs")


def _click_to_install(*, app: App, filters: Filters, query: dict) -> Table:
    rows = analytics.click_to_install_times(app=app, filters=filters)
    return Table("click-to-install.csv", list(CTIT_COLUMNS), ([cell(r[c]) for c in CTIT_COLUMNS] for r in rows))


def _cohorts(*, app: App, filters: Filters, query: dict) -> Table:
    """A row per cohort (and source or campaign under a split): its installs and the retention of each
    day (week) after install."""
    granularity, split = query["granularity"], query["split"]
    rows = cohorts.retention(app=app, filters=filters, granularity=granularity, split=split)
    dimensions = ["cohort", *cohorts.SPLITS[split]]
    periods = range(cohorts.GRANULARITIES[granularity].horizon + 1)
    header = [*dimensions, "installs", *(f"{granularity[0].upper()}{n}" for n in periods)]
    body = ([*(cell(row[d]) for d in dimensions), cell(row["installs"]), *map(cell, row["retention"])] for row in rows)
    return Table(f"cohorts-{granularity}.csv", header, body)


def _ltv(*, app: App, filters: Filters, query: dict) -> Table:
    """A row per cohort: the LTV of each day after install, and the cohort's revenue to the horizon."""
    granularity, split, horizon = query["granularity"], query["split"], query["horizon"]
    rows = cohorts.ltv_curves(app=app, filters=filters, granularity=granularity, split=split, horizon=horizon)
    dimensions = ["cohort", *cohorts.SPLITS[split]]
    header = [*dimensions, "installs", *(f"D{n}" for n in range(horizon + 1)), "revenue", "revenueUnconverted"]
    body = (
        [
            *(cell(row[d]) for d in dimensions),
            cell(row["installs"]),
            *(cell(point["ltv"]) for point in row["points"]),
            *money_cells(next((p["revenue"] for p in reversed(row["points"]) if p["revenue"]), None)),
        ]
        for row in rows
    )
    return Table(f"ltv-{granularity}.csv", header, body)


STEP_COLUMNS = ("step", "devices", *funnels.STEP_RATIOS)


def _funnel(*, app: App, filters: Filters, query: dict) -> Table:
    """A row per step; under split=source, per media source and step."""
    result = funnels.funnel(
        app=app, filters=filters, steps=query["steps"], window_days=query["window"], split=query["split"]
    )
    if result["rows"] is None:
        return Table("funnel.csv", list(STEP_COLUMNS), [[cell(s[c]) for c in STEP_COLUMNS] for s in result["total"]])
    body = [
        [cell(row["mediaSource"]), *(cell(s[c]) for c in STEP_COLUMNS)] for row in result["rows"] for s in row["steps"]
    ]
    return Table("funnel-source.csv", ["mediaSource", *STEP_COLUMNS], body)


REPORTS: dict[str, Report] = {
    "campaigns": Report(CampaignsQuery, _campaigns),
    "series": Report(SeriesQuery, _series),
    "models": Report(AppQuery, _models),
    "fraud": Report(AppQuery, _fraud),
    "click-to-install": Report(AppQuery, _click_to_install),
    "funnel": Report(funnels.FunnelForm, _funnel, FUNNEL_PARAMETERS),
    "cohorts": Report(CohortsQuery, _cohorts),
    "ltv": Report(LtvQuery, _ltv),
}


def report_table(name: str, *, app: App, data) -> Table:
    """The table of report ``name`` for ``app`` under the filters and parameters in ``data`` (a
    QueryDict); an ApplicationError names what is bad."""
    report = REPORTS[name]
    query = report.parse(data)  # the report's own parameters first, as its JSON endpoint does
    return report.table(app=app, filters=report_filters_of(app=app, data=data), query=query)


def known_parameters(name: str) -> set[str]:
    """Every parameter report ``name`` reads: the report filters and its own."""
    return {*FIELDS, *REPORTS[name].parameter_names()}


class _Echo:
    """csv.writer's file: each row comes back as the text to stream."""

    def write(self, value: str) -> str:
        return value


def csv_lines(table: Table) -> Iterable[str]:
    """The table as CSV text, a line at a time (``csv.writer``'s dialect: CRLF line ends)."""
    writer = csv.writer(_Echo())
    return (writer.writerow(row) for row in itertools.chain([table.header], table.rows))


CSV_RESPONSE = {(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The table as CSV, streamed.")}


def csv_api(name: str) -> type[APIView]:
    """The ``.csv`` endpoint of report ``name``: the same parameters as its JSON sibling."""
    report = REPORTS[name]
    query = report.query if not issubclass(report.query, forms.Form) else AppQuery

    class CsvApi(APIView):
        permission_classes = ANALYTICS_PERMISSION

        @extend_schema(
            parameters=[query, *report.parameters, *_filter_parameters()],
            responses={**CSV_RESPONSE, **REPORT_ERRORS},
        )
        def get(self, request):
            app_id = parsed(AppQuery, request.query_params)["app_id"]
            app = app_access(request=request, app_id=app_id, permission="view_analytics")
            table = report_table(name, app=app, data=request.query_params)
            response = StreamingHttpResponse(csv_lines(table), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{table.filename}"'
            return response

    CsvApi.__name__ = CsvApi.__qualname__ = f"Analytics{name.title().replace('-', '')}CsvApi"
    CsvApi.__doc__ = f"The {name} report as CSV, streamed."
    return CsvApi
