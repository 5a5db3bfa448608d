"""The cohort reports' APIs (/api/analytics/cohorts and ltv): parse the app, the report filters and
the cohort options, call one selector of dashboard.cohorts, serialize (the helpers of the other
reports, dashboard.apis.reports). Their .csv siblings are built from the registry in ``exports``."""

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import cohorts
from ..metrics import METRICS
from .reports import (
    ANALYTICS_PERMISSION,
    AppQuery,
    MetricOut,
    MoneyOut,
    ReportOut,
    _filter_parameters,
    _metrics_out,
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


class AnalyticsCohortsApi(APIView):
    """Retention cohorts: the share of each install day's (week's) installs active on day (week) n
    after install, D0-D30 or W0-W12, optionally split by media source or campaign."""

    permission_classes = ANALYTICS_PERMISSION

    @extend_schema(parameters=[CohortsQuery, *_filter_parameters()], responses={200: CohortsOut, **REPORT_ERRORS})
    def get(self, request):
        app, query, filters, head = _report(request, CohortsQuery)
        granularity, split = query["granularity"], query["split"]
        rows = cohorts.retention(app=app, filters=filters, granularity=granularity, split=split)
        periods = list(range(cohorts.GRANULARITIES[granularity].horizon + 1))
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


class AnalyticsLtvApi(APIView):
    """LTV curves: per install day (week) cohort, the cumulative revenue per install by day since
    install, in the app's currency."""

    permission_classes = ANALYTICS_PERMISSION

    @extend_schema(parameters=[LtvQuery, *_filter_parameters()], responses={200: LtvOut, **REPORT_ERRORS})
    def get(self, request):
        app, query, filters, head = _report(request, LtvQuery)
        granularity, split, horizon = query["granularity"], query["split"], query["horizon"]
        rows = cohorts.ltv_curves(app=app, filters=filters, granularity=granularity, split=split, horizon=horizon)
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
