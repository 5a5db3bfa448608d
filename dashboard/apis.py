import datetime as dt

from django.utils import timezone
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import roles
from accounts.permissions import RoleRequired
from apps_registry.selectors import app_access

from . import selectors


class ReportQuery(serializers.Serializer):
    app_id = serializers.UUIDField()
    days = serializers.IntegerField(min_value=1, max_value=730, default=30)


def _parse(request):
    query = ReportQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    app = app_access(request=request, app_id=query.validated_data["app_id"], permission="view_analytics")
    return app, timezone.now() - dt.timedelta(days=query.validated_data["days"])


class DashboardStatsApi(APIView):
    permission_classes = [RoleRequired(roles.ADMIN, roles.USER, permission="dashboard:read")]

    def get(self, request):
        app, since = _parse(request)
        return Response(
            {"appId": str(app.id), "since": since.isoformat(), **selectors.dashboard_stats(app_id=app.id, since=since)}
        )


class AnalyticsEventsApi(APIView):
    permission_classes = [RoleRequired(roles.ADMIN, roles.USER, permission="analytics:read")]

    def get(self, request):
        app, since = _parse(request)
        return Response(
            {
                "appId": str(app.id),
                "since": since.isoformat(),
                "series": selectors.events_over_time(app_id=app.id, since=since),
            }
        )
