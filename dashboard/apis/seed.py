"""The seed's dashboard and analytics APIs (/api/dashboard/stats, /api/analytics/events and attribution)
and the explanation of one conversion."""

import datetime as dt

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.rbac import roles
from accounts.rbac.permissions import RoleRequired
from accounts.rbac.selectors import app_access
from core.errors import ApplicationError
from core.openapi import errors
from events.attribution_engine.rules import MODELS

from .. import explanation, selectors


class ReportQuery(serializers.Serializer):
    app_id = serializers.UUIDField()
    days = serializers.IntegerField(min_value=1, max_value=730, default=30)


@extend_schema_serializer(component_name="DashboardStats")
class DashboardStatsOut(serializers.Serializer):
    appId = serializers.UUIDField()
    since = serializers.DateTimeField()
    totalEvents = serializers.IntegerField()
    activeUsers = serializers.IntegerField(help_text="Distinct user ids with an event (the seed's uniq(user_id)).")
    installs = serializers.IntegerField(help_text="New installs attributed by the engine (not reinstalls).")
    revenue = serializers.DecimalField(max_digits=24, decimal_places=6, help_text="Sum over every currency sent.")
    conversionRate = serializers.FloatField(help_text="Purchasers / active users (both by user id).")


class EventsPerDay(serializers.Serializer):
    day = serializers.DateField()
    event = serializers.CharField()
    count = serializers.IntegerField()


@extend_schema_serializer(component_name="AnalyticsEvents")
class AnalyticsEventsOut(serializers.Serializer):
    appId = serializers.UUIDField()
    since = serializers.DateTimeField()
    series = EventsPerDay(many=True)


class AttributionQuery(ReportQuery):
    model = serializers.ChoiceField(choices=MODELS, default="last_touch")


class SourceResult(serializers.Serializer):
    mediaSource = serializers.CharField(help_text='"organic": no touch; "unattributed": no install before.')
    installs = serializers.FloatField(help_text="Credit-weighted under multi-touch models.")
    revenue = serializers.FloatField(help_text="Of the purchases in the period, inherited from their install.")
    purchases = serializers.FloatField()


@extend_schema_serializer(component_name="AnalyticsAttribution")
class AnalyticsAttributionOut(serializers.Serializer):
    appId = serializers.UUIDField()
    since = serializers.DateTimeField()
    model = serializers.ChoiceField(choices=MODELS)
    sources = SourceResult(many=True)


REPORT_ERRORS = errors(400, 401, 403, 404)


def _parse(request, query_class=ReportQuery):
    """The app (per-app access checked), the start of the period, and the validated query."""
    query = query_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    app = app_access(request=request, app_id=query.validated_data["app_id"], permission="view_analytics")
    return app, timezone.now() - dt.timedelta(days=query.validated_data["days"]), query.validated_data


class DashboardStatsApi(APIView):
    permission_classes = [RoleRequired(roles.ADMIN, roles.USER, permission="dashboard:read")]

    @extend_schema(parameters=[ReportQuery], responses={200: DashboardStatsOut, **REPORT_ERRORS})
    def get(self, request):
        app, since, _ = _parse(request)
        return Response(
            {
                "appId": str(app.id),
                "since": since.isoformat(),
                **selectors.dashboard_stats(app_id=app.id, since=since, until=timezone.now()),
            }
        )


class AnalyticsEventsApi(APIView):
    permission_classes = [RoleRequired(roles.ADMIN, roles.USER, permission="analytics:read")]

    @extend_schema(parameters=[ReportQuery], responses={200: AnalyticsEventsOut, **REPORT_ERRORS})
    def get(self, request):
        app, since, _ = _parse(request)
        return Response(
            {
                "appId": str(app.id),
                "since": since.isoformat(),
                "series": selectors.events_over_time(app_id=app.id, since=since, until=timezone.now()),
            }
        )


class AnalyticsAttributionApi(APIView):
    """Installs and inherited revenue per media source under one attribution model."""

    permission_classes = [RoleRequired(roles.ADMIN, roles.USER, permission="analytics:read")]

    @extend_schema(parameters=[AttributionQuery], responses={200: AnalyticsAttributionOut, **REPORT_ERRORS})
    def get(self, request):
        app, since, query = _parse(request, AttributionQuery)
        model = query["model"]
        return Response(
            {
                "appId": str(app.id),
                "since": since.isoformat(),
                "model": model,
                "sources": selectors.attribution_by_source(
                    app_id=app.id, model=model, since=since, until=timezone.now()
                ),
            }
        )


class ConversionAttributionApi(APIView):
    """Why a conversion was attributed as it was: candidates, the waterfall decision, every model's
    credits, the settings version and windows that produced it."""

    permission_classes = [RoleRequired(roles.ADMIN, roles.USER, permission="analytics:read")]

    @extend_schema(
        parameters=[
            OpenApiParameter("app_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The app's id."),
            OpenApiParameter("event_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The conversion."),
        ],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="conversion, rules, decision, candidates, models"),
            **errors(401, 403, 404),
        },
    )
    def get(self, request, app_id, event_id):
        app = app_access(request=request, app_id=app_id, permission="view_analytics")
        story = explanation.conversion_explanation(app=app, conversion_id=event_id)
        if story is None:
            raise ApplicationError(
                "No attribution for this event: it is not a conversion, or the engine has not reached it yet.",
                status_code=404,
            )
        return Response(story)
