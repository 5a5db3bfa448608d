"""The funnel API (/api/analytics/funnel): parse the app, the report filters and the funnel's steps
(``dashboard.funnels.FunnelForm``, the page's parser too), call the selector, serialize. Its .csv
sibling is built from the registry in ``exports``."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import funnels
from .reports import (
    ANALYTICS_PERMISSION,
    REPORT_ERRORS,
    AppQuery,
    ReportOut,
    _filter_parameters,
    _metric_field,
    _report,
    parsed_form,
)

FUNNEL_PARAMETERS = [
    OpenApiParameter(
        "steps",
        OpenApiTypes.STR,
        OpenApiParameter.QUERY,
        required=True,
        many=True,
        explode=True,
        description=(
            f"The steps in order, {funnels.MIN_STEPS} to {funnels.MAX_STEPS} event names, repeated (steps=a&steps=b) "
            f"or as a comma list; the first may be {funnels.INSTALL!r}, the engine's new install."
        ),
    ),
    OpenApiParameter(
        "window",
        OpenApiTypes.INT,
        OpenApiParameter.QUERY,
        description=f"Conversion window in days from the first step, 1-30 ({funnels.DEFAULT_WINDOW_DAYS} by default).",
    ),
    OpenApiParameter(
        "split",
        OpenApiTypes.STR,
        OpenApiParameter.QUERY,
        enum=[name for name in funnels.SPLITS if name],
        description="source: a row per media source of the device's install under the chosen model.",
    ),
]


class FunnelStepOut(serializers.Serializer):
    step = serializers.CharField()
    devices = _metric_field("devices", serializers.FloatField)
    conversionFromPrevious = _metric_field("conversionFromPrevious", serializers.FloatField, allow_null=True)
    conversionFromFirst = _metric_field("conversionFromFirst", serializers.FloatField, allow_null=True)


class FunnelRowOut(serializers.Serializer):
    mediaSource = serializers.CharField(
        allow_null=True, help_text='"organic": an install with no touch; null: no new install on record.'
    )
    steps = FunnelStepOut(many=True)


@extend_schema_serializer(component_name="AnalyticsFunnel")
class FunnelOut(ReportOut):
    steps = serializers.ListField(child=serializers.CharField())
    window = serializers.IntegerField(help_text="Conversion window in days.")
    split = serializers.CharField(help_text='"source", or "" for none.')
    total = FunnelStepOut(many=True)
    rows = FunnelRowOut(many=True, allow_null=True, help_text="Per media source under split=source, else null.")


class AnalyticsFunnelApi(APIView):
    """Devices through ordered steps within a conversion window, each step's conversion from the
    previous and from the first; optionally per media source."""

    permission_classes = ANALYTICS_PERMISSION

    @extend_schema(
        parameters=[AppQuery, *FUNNEL_PARAMETERS, *_filter_parameters()], responses={200: FunnelOut, **REPORT_ERRORS}
    )
    def get(self, request):
        app, _, filters, head = _report(request, AppQuery)
        query = parsed_form(funnels.FunnelForm, request.query_params)
        result = funnels.funnel(
            app=app, filters=filters, steps=query["steps"], window_days=query["window"], split=query["split"]
        )
        return Response({**head, "steps": query["steps"], "window": query["window"], "split": query["split"], **result})
