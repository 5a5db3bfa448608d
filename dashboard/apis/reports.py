"""The analytics reports' APIs (/api/analytics/overview, series, campaigns, models, fraud,
click-to-install): parse the app and the report filters (dashboard.filters), call one selector of
dashboard.analytics, serialize. Their .csv siblings are built from the registry in ``exports``."""

from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.rbac import roles
from accounts.rbac.permissions import RoleRequired
from accounts.rbac.selectors import app_access
from apps_registry.models import App
from apps_registry.services import settings_current
from core.apis import parsed
from core.errors import ApplicationError
from events.attribution_engine.rules import MODELS

from .. import analytics, cohorts
from ..filters import BadFilters, Filters, FiltersForm, report_filters
from ..metrics import METRICS
from .seed import REPORT_ERRORS


def _filter_parameters() -> list[OpenApiParameter]:
    """The report filters as OpenAPI query parameters, read from the one form that parses them."""
    kinds = {forms.DateField: OpenApiTypes.DATE, forms.TypedChoiceField: OpenApiTypes.INT}
    parameters = []
    for name, field in FiltersForm.base_fields.items():
        choices = [value for value, _ in getattr(field, "choices", []) if value != ""]
        parameters.append(
            OpenApiParameter(
                name,
                kinds.get(type(field), OpenApiTypes.STR),
                OpenApiParameter.QUERY,
                description=f"{field.label}. {FILTERS_HELP.get(name, '')}".strip(),
                enum=choices or None,
            )
        )
    return parameters


FILTERS_HELP = {
    "days": "A preset period: the last N days of the app's time zone up to now, today counting as one (7 by default).",
    "date_from": "First day of a date range in the app's time zone (with date_to; wins over days).",
    "date_to": "Last day of the range, inclusive.",
    "model": "The attribution model whose credits are counted (the app's default model by default).",
    "country": "Two-letter code: narrows installs and activity; touches and cost carry none (null then).",
    "platform": "Narrows installs, activity and touches; imported cost carries none (null then).",
    "media_source": "Narrows credited touches, touches and cost; activity carries none (null, or a 400).",
    "campaign": "As media_source, for one campaign.",
}


class AppQuery(serializers.Serializer):
    app_id = serializers.UUIDField()


class CampaignsQuery(AppQuery):
    level = serializers.ChoiceField(choices=list(analytics.LEVELS), default="source")


class SeriesQuery(AppQuery):
    interval = serializers.ChoiceField(choices=list(analytics.SERIES_INTERVALS), default="day")


class UnconvertedOut(serializers.Serializer):
    currency = serializers.CharField()
    amount = serializers.DecimalField(max_digits=30, decimal_places=4)


@extend_schema_serializer(component_name="Money")
class MoneyOut(serializers.Serializer):
    currency = serializers.CharField(help_text="The app's reporting currency.")
    amount = serializers.DecimalField(max_digits=30, decimal_places=4, help_text="Converted at each day's rate.")
    unconverted = UnconvertedOut(many=True, help_text="Amounts in currencies without a rate that day: not added in.")


def _metric_field(name: str, field_class, **kwargs):
    return field_class(help_text=METRICS[name].definition, **kwargs)


class PerformanceOut(serializers.Serializer):
    impressions = _metric_field("impressions", serializers.IntegerField, allow_null=True)
    clicks = _metric_field("clicks", serializers.IntegerField, allow_null=True)
    installs = _metric_field("installs", serializers.FloatField)
    nonOrganicInstalls = _metric_field("nonOrganicInstalls", serializers.FloatField)
    payingUsers = _metric_field("payingUsers", serializers.FloatField)
    revenue = MoneyOut(help_text=METRICS["revenue"].definition)
    cost = MoneyOut(allow_null=True, help_text=METRICS["cost"].definition)
    ctr = _metric_field("ctr", serializers.FloatField, allow_null=True)
    clickToInstallRate = _metric_field("clickToInstallRate", serializers.FloatField, allow_null=True)
    installToPurchaseRate = _metric_field("installToPurchaseRate", serializers.FloatField, allow_null=True)
    arpu = _metric_field("arpu", serializers.FloatField, allow_null=True)
    arppu = _metric_field("arppu", serializers.FloatField, allow_null=True)
    ecpi = _metric_field("ecpi", serializers.FloatField, allow_null=True)
    roas = _metric_field("roas", serializers.FloatField, allow_null=True)


class CohortColumnsOut(serializers.Serializer):
    """The campaign report's cohort columns (dashboard.cohorts): null until day n is over."""

    roasD0 = _metric_field("roasD0", serializers.FloatField, allow_null=True)
    roasD7 = _metric_field("roasD7", serializers.FloatField, allow_null=True)
    roasD30 = _metric_field("roasD30", serializers.FloatField, allow_null=True)
    retentionD1 = _metric_field("retentionD1", serializers.FloatField, allow_null=True)
    retentionD7 = _metric_field("retentionD7", serializers.FloatField, allow_null=True)
    retentionD30 = _metric_field("retentionD30", serializers.FloatField, allow_null=True)


@extend_schema_serializer(component_name="CampaignRow")
class CampaignRowOut(PerformanceOut, CohortColumnsOut):
    mediaSource = serializers.CharField(help_text='"organic": installs with no touch to credit.')
    campaign = serializers.CharField(required=False)
    adset = serializers.CharField(required=False)
    ad = serializers.CharField(required=False)


@extend_schema_serializer(component_name="OverviewKpis")
class KpisOut(PerformanceOut):
    totalEvents = _metric_field("totalEvents", serializers.IntegerField, allow_null=True)
    activeUsers = _metric_field("activeUsers", serializers.IntegerField, allow_null=True)


class MetricOut(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.CharField()
    definition = serializers.CharField()


class ReportOut(serializers.Serializer):
    appId = serializers.UUIDField()
    currency = serializers.CharField()
    timeZone = serializers.CharField()
    model = serializers.ChoiceField(choices=MODELS)
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()


@extend_schema_serializer(component_name="AnalyticsOverview")
class OverviewOut(ReportOut):
    previousSince = serializers.DateTimeField()
    current = KpisOut()
    previous = KpisOut()
    metrics = MetricOut(many=True)


@extend_schema_serializer(component_name="CampaignTotal")
class CampaignTotalOut(KpisOut, CohortColumnsOut):
    pass


@extend_schema_serializer(component_name="AnalyticsCampaigns")
class CampaignsOut(ReportOut):
    level = serializers.ChoiceField(choices=list(analytics.LEVELS))
    total = CampaignTotalOut()
    rows = CampaignRowOut(many=True)
    metrics = MetricOut(many=True)


class SeriesPointOut(serializers.Serializer):
    start = serializers.CharField(help_text="The bucket's start in the app's time zone (a date for days and weeks).")
    totalEvents = _metric_field("totalEvents", serializers.IntegerField)
    dau = serializers.IntegerField(help_text="Distinct devices (else user ids) with an event in the bucket.")
    installs = _metric_field("installs", serializers.IntegerField)
    organicInstalls = _metric_field("organicInstalls", serializers.IntegerField)
    nonOrganicInstalls = _metric_field("nonOrganicInstalls", serializers.IntegerField)
    reattributions = _metric_field("reattributions", serializers.IntegerField)
    reengagements = _metric_field("reengagements", serializers.IntegerField)
    revenue = MoneyOut(help_text="Purchase revenue of the bucket (activity date) in the app's currency.")


@extend_schema_serializer(component_name="AnalyticsSeries")
class SeriesOut(ReportOut):
    interval = serializers.ChoiceField(choices=list(analytics.SERIES_INTERVALS))
    points = SeriesPointOut(many=True)


def report_filters_of(*, app: App, data) -> Filters:
    """The report filters in ``data`` for ``app`` (its default model, its time zone), or a 400."""
    try:
        return report_filters(data=data, default_model=settings_current(app=app).default_model, time_zone=app.timezone)
    except BadFilters as bad:
        raise ApplicationError("Invalid report filters.", extra=bad.form.errors.get_json_data()) from None


def parsed_form(form_class: type[forms.Form], data) -> dict:
    """The cleaned data of a report's own parameters parsed by a Django form (the one its page
    parses them with), or a 400 naming the bad ones."""
    form = form_class(data=data)
    if not form.is_valid():
        raise ApplicationError("Invalid report parameters.", extra=form.errors.get_json_data())
    return form.cleaned_data


def _report(request, query_class):
    """The app (per-app access checked), the validated query and the report filters, or a 400."""
    query = parsed(query_class, request.query_params)
    app = app_access(request=request, app_id=query["app_id"], permission="view_analytics")
    filters = report_filters_of(app=app, data=request.query_params)
    head = {
        "appId": str(app.id),
        "currency": app.currency,
        "timeZone": app.timezone,
        "model": filters.model,
        "since": filters.since.isoformat(),
        "until": filters.until.isoformat(),
    }
    return app, query, filters, head


def _metrics_out(*names: str) -> list[dict]:
    return [
        {"name": m.name, "label": m.label, "unit": m.unit, "definition": m.definition}
        for m in (METRICS[name] for name in names)
    ]


PERFORMANCE_METRICS = (
    "impressions",
    "clicks",
    "installs",
    "nonOrganicInstalls",
    "payingUsers",
    "revenue",
    "cost",
    *analytics.PERFORMANCE_RATIOS,
)
CAMPAIGN_METRICS = (*PERFORMANCE_METRICS, *cohorts.COHORT_COLUMNS)
ANALYTICS_PERMISSION = [RoleRequired(roles.ADMIN, roles.USER, permission="analytics:read")]


class AnalyticsOverviewApi(APIView):
    """The period's KPIs beside those of the previous period: as many whole days just before it."""

    permission_classes = ANALYTICS_PERMISSION

    @extend_schema(parameters=[AppQuery, *_filter_parameters()], responses={200: OverviewOut, **REPORT_ERRORS})
    def get(self, request):
        app, _, filters, head = _report(request, AppQuery)
        return Response(
            {
                **head,
                "previousSince": filters.previous_since.isoformat(),
                **analytics.overview(app=app, filters=filters),
                "metrics": _metrics_out(*PERFORMANCE_METRICS, "totalEvents", "activeUsers"),
            }
        )


class AnalyticsCampaignsApi(APIView):
    """Campaign performance, drilled down media source -> campaign -> ad set -> ad (``level``); narrow
    it with media_source and campaign to open one branch. The rows of a level add up to its total."""

    permission_classes = ANALYTICS_PERMISSION

    @extend_schema(parameters=[CampaignsQuery, *_filter_parameters()], responses={200: CampaignsOut, **REPORT_ERRORS})
    def get(self, request):
        app, query, filters, head = _report(request, CampaignsQuery)
        level = query["level"]
        both = cohorts.campaign_performance(app=app, filters=filters, levels=(level, None))
        rows = both[level]
        total = both[None][0]
        return Response(
            {
                **head,
                "level": level,
                "total": {**total, **analytics.activity(app=app, filters=filters)},
                "rows": rows,
                "metrics": _metrics_out(*CAMPAIGN_METRICS),
            }
        )


SERIES_COLUMNS = (
    "totalEvents",
    "dau",
    "installs",
    "organicInstalls",
    "nonOrganicInstalls",
    "reattributions",
    "reengagements",
)


class AnalyticsSeriesApi(APIView):
    """Events, DAU, installs (organic / non-organic) and revenue per hour, day or week of the app's
    time zone (activity date)."""

    permission_classes = ANALYTICS_PERMISSION

    @extend_schema(parameters=[SeriesQuery, *_filter_parameters()], responses={200: SeriesOut, **REPORT_ERRORS})
    def get(self, request):
        app, query, filters, head = _report(request, SeriesQuery)
        points = analytics.series(app=app, filters=filters, interval=query["interval"])
        return Response({**head, "interval": query["interval"], "points": points})


class ModelResultOut(serializers.Serializer):
    model = serializers.ChoiceField(choices=MODELS)
    installs = serializers.FloatField(help_text="Credit-weighted new installs.")
    revenue = MoneyOut(help_text="Revenue to date of those installs, split by the same credits.")


class ModelRowOut(serializers.Serializer):
    mediaSource = serializers.CharField()
    models = ModelResultOut(many=True)


@extend_schema_serializer(component_name="AnalyticsModels")
class ModelsOut(ReportOut):
    rows = ModelRowOut(many=True)


class FraudRowOut(serializers.Serializer):
    mediaSource = serializers.CharField(allow_null=True, help_text="The source of the flagged click.")
    reason = serializers.CharField(help_text="click_injection or click_flooding.")
    status = serializers.CharField(help_text="flagged (kept, flag policy) or rejected (credited elsewhere).")
    installs = serializers.IntegerField()


@extend_schema_serializer(component_name="AnalyticsFraud")
class FraudOut(ReportOut):
    rows = FraudRowOut(many=True)


class AnalyticsModelsApi(APIView):
    """Installs and revenue per media source under all six attribution models side by side."""

    permission_classes = ANALYTICS_PERMISSION

    @extend_schema(parameters=[AppQuery, *_filter_parameters()], responses={200: ModelsOut, **REPORT_ERRORS})
    def get(self, request):
        app, _, filters, head = _report(request, AppQuery)
        rows = analytics.model_comparison(app=app, filters=filters)
        return Response({**head, "rows": rows})


FRAUD_COLUMNS = ("mediaSource", "reason", "status", "installs")


class AnalyticsFraudApi(APIView):
    """New installs of the period whose winning click was flagged as fraud, per source, reason and outcome."""

    permission_classes = ANALYTICS_PERMISSION

    @extend_schema(parameters=[AppQuery, *_filter_parameters()], responses={200: FraudOut, **REPORT_ERRORS})
    def get(self, request):
        app, _, filters, head = _report(request, AppQuery)
        rows = analytics.fraud(app=app, filters=filters)
        return Response({**head, "rows": rows})


class CtitRowOut(serializers.Serializer):
    mediaSource = serializers.CharField()
    fromSeconds = serializers.IntegerField(help_text="The bucket's lower bound, inclusive.")
    toSeconds = serializers.IntegerField(allow_null=True, help_text="Its upper bound, exclusive; null: no bound.")
    installs = serializers.IntegerField()


@extend_schema_serializer(component_name="AnalyticsClickToInstall")
class CtitOut(ReportOut):
    rows = CtitRowOut(many=True)


class AnalyticsClickToInstallApi(APIView):
    """The click-to-install time distribution per source: new installs won by a click, per bucket."""

    permission_classes = ANALYTICS_PERMISSION

    @extend_schema(parameters=[AppQuery, *_filter_parameters()], responses={200: CtitOut, **REPORT_ERRORS})
    def get(self, request):
        app, _, filters, head = _report(request, AppQuery)
        rows = analytics.click_to_install_times(app=app, filters=filters)
        return Response({**head, "rows": rows})
