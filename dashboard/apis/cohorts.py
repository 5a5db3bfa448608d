"""The cohort reports' APIs (/api/analytics/cohorts and ltv, each with a .csv sibling): parse the app,
the report filters and the cohort options, call one selector of dashboard.cohorts, serialize or
stream CSV (the helpers of the other reports, dashboard.apis.reports)."""

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import cohorts
from ..metrics import METRICS
from .reports import (
    ANALYTICS_PERMISSION,
    CSV_RESPONSE,
    AppQuery,
    MetricOut,
    MoneyOut,
    ReportOut,
    _cell,
    _csv_response,
    _filter_parameters,
    _metrics_out,
    _money_cells,
    _report,
)
from .seed import REPORT_ERRORS


class CohortsQuery(AppQuery):
    granularity = serializers.ChoiceField(
        choices=list(cohorts.GRANULARITIES),
        default="day",
        help_text="Cohorts by install day (D0-D30) or week (W0-W12).",
    )
    split = serializers.ChoiceField(
        choices=list(cohorts.SPLITS), default="none", help_text="One row per cohort, or per media source or campaign."
    )


class LtvQuery(CohortsQuery):
    horizon = serializers.IntegerField(
        min_value=0,
        max_value=cohorts.LTV_MAX_HORIZON,
        default=cohorts.LTV_DEFAULT_HORIZON,
        help_text="The last day after install of each curve.",
    )


class CohortRowOut(serializers.Serializer):
    cohort = serializers.DateField(help_text="The cohort's install day, or its week's Monday, in the app's time zone.")
    mediaSource = serializers.CharField(required=False, help_text='With split=source or campaign; "organic": no touch.')
    campaign = serializers.CharField(required=False, help_text="With split=campaign.")
    installs = serializers.FloatField(help_text=METRICS["installs"].definition)


class RetentionRowOut(CohortRowOut):
    retained = serializers.ListField(
        child=serializers.FloatField(allow_null=True), help_text=f"Per period 0..n: {METRICS['retained'].definition}"
    )
    retention = serializers.ListField(
        child=serializers.FloatField(allow_null=True),
        help_text=f"Per period 0..n: {METRICS['retention'].definition} Null: the period is not over yet.",
    )


class LtvPointOut(serializers.Serializer):
    day = serializers.IntegerField(help_text="Days after the install day.")
    revenue = MoneyOut(allow_null=True, help_text=METRICS["cumulativeRevenue"].definition)
    ltv = serializers.FloatField(
        allow_null=True, help_text=f"{METRICS['ltv'].definition} Null: not over yet, or revenue partly unconverted."
    )


class LtvRowOut(CohortRowOut):
    points = LtvPointOut(many=True)


@extend_schema_serializer(component_name="AnalyticsCohorts")
class CohortsOut(ReportOut):
    granularity = serializers.ChoiceField(choices=list(cohorts.GRANULARITIES))
    split = serializers.ChoiceField(choices=list(cohorts.SPLITS))
    periods = serializers.ListField(child=serializers.IntegerField(), help_text="Day (week) numbers of the columns.")
    rows = RetentionRowOut(many=True)
    metrics = MetricOut(many=True)


@extend_schema_serializer(component_name="AnalyticsLtv")
class LtvOut(ReportOut):
    granularity = serializers.ChoiceField(choices=list(cohorts.GRANULARITIES))
    split = serializers.ChoiceField(choices=list(cohorts.SPLITS))
    horizon = serializers.IntegerField()
    rows = LtvRowOut(many=True)
    metrics = MetricOut(many=True)


def _cohort_report(request, query_class):
    """``reports._report`` with the period cut to the app's whole days, as the cohorts count it."""
    app, query, filters, head = _report(request, query_class)
    filters = cohorts.whole_days(app=app, filters=filters)
    return app, query, filters, {**head, "since": filters.since.isoformat(), "until": filters.until.isoformat()}


def _period_name(granularity: str, n: int) -> str:
    return f"{granularity[0].upper()}{n}"


class AnalyticsCohortsApi(APIView):
    """Retention cohorts: the share of each install day's (week's) installs active on day (week) n
    after install, D0-D30 or W0-W12, optionally split by media source or campaign."""

    permission_classes = ANALYTICS_PERMISSION
    csv = False

    @extend_schema(parameters=[CohortsQuery, *_filter_parameters()], responses={200: CohortsOut, **REPORT_ERRORS})
    def get(self, request):
        app, query, filters, head = _cohort_report(request, CohortsQuery)
        granularity, split = query["granularity"], query["split"]
        rows = cohorts.retention(app=app, filters=filters, granularity=granularity, split=split)
        periods = list(range(cohorts.GRANULARITIES[granularity].horizon + 1))
        if self.csv:
            dimensions = ["cohort", *cohorts.SPLITS[split]]
            header = [*dimensions, "installs", *(_period_name(granularity, n) for n in periods)]
            body = ([*(row[d] for d in dimensions), row["installs"], *map(_cell, row["retention"])] for row in rows)
            return _csv_response(f"cohorts-{granularity}.csv", header, body)
        return Response(
            {
                **head,
                "granularity": granularity,
                "split": split,
                "periods": periods,
                "rows": rows,
                "metrics": _metrics_out("installs", "retained", "retention"),
            }
        )


class AnalyticsCohortsCsvApi(AnalyticsCohortsApi):
    csv = True

    @extend_schema(parameters=[CohortsQuery, *_filter_parameters()], responses={**CSV_RESPONSE, **REPORT_ERRORS})
    def get(self, request):
        return super().get(request)


class AnalyticsLtvApi(APIView):
    """LTV curves: per install day (week) cohort, the cumulative revenue per install by day since
    install, in the app's currency."""

    permission_classes = ANALYTICS_PERMISSION
    csv = False

    @extend_schema(parameters=[LtvQuery, *_filter_parameters()], responses={200: LtvOut, **REPORT_ERRORS})
    def get(self, request):
        app, query, filters, head = _cohort_report(request, LtvQuery)
        granularity, split, horizon = query["granularity"], query["split"], query["horizon"]
        rows = cohorts.ltv_curves(app=app, filters=filters, granularity=granularity, split=split, horizon=horizon)
        if self.csv:
            dimensions = ["cohort", *cohorts.SPLITS[split]]
            header = [
                *dimensions,
                "installs",
                *(f"D{n}" for n in range(horizon + 1)),
                "revenue",
                "revenueUnconverted",
            ]
            body = (
                [
                    *(row[d] for d in dimensions),
                    row["installs"],
                    *(_cell(point["ltv"]) for point in row["points"]),
                    *_money_cells(next((p["revenue"] for p in reversed(row["points"]) if p["revenue"]), None)),
                ]
                for row in rows
            )
            return _csv_response(f"ltv-{granularity}.csv", header, body)
        return Response(
            {
                **head,
                "granularity": granularity,
                "split": split,
                "horizon": horizon,
                "rows": rows,
                "metrics": _metrics_out("installs", "cumulativeRevenue", "ltv"),
            }
        )


class AnalyticsLtvCsvApi(AnalyticsLtvApi):
    csv = True

    @extend_schema(parameters=[LtvQuery, *_filter_parameters()], responses={**CSV_RESPONSE, **REPORT_ERRORS})
    def get(self, request):
        return super().get(request)
