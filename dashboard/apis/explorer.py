"""The event explorer API (/api/analytics/explorer): an app's latest raw events as stored
(pseudonymised), narrowed by event name and device, for debugging an SDK integration. The live events
page reads the same selector (``dashboard.live_events``)."""

import datetime as dt

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.rbac.selectors import app_access
from core.apis import parsed
from events.ingestion.schema import NAME_PATTERN

from .. import live_events
from .reports import ANALYTICS_PERMISSION, REPORT_ERRORS

MAX_HOURS = 24 * 30


class ExplorerQuery(serializers.Serializer):
    app_id = serializers.UUIDField()
    event_name = serializers.RegexField(NAME_PATTERN, max_length=64, required=False, default="")
    device_id = serializers.CharField(
        max_length=256,
        required=False,
        default="",
        help_text="One device: the id the SDK sent (any kind) or its pseudonym as listed here.",
    )
    limit = serializers.IntegerField(min_value=1, max_value=live_events.MAX_LIMIT, default=100)
    hours = serializers.IntegerField(
        min_value=1, max_value=MAX_HOURS, default=24, help_text="Events received in the last N hours."
    )


class ExplorerEventOut(serializers.Serializer):
    event_id = serializers.UUIDField()
    event_name = serializers.CharField()
    timestamp = serializers.DateTimeField(help_text="When it happened, as the SDK said.")
    received_at = serializers.DateTimeField()
    platform = serializers.CharField()
    app_version = serializers.CharField()
    country = serializers.CharField()
    device_id = serializers.CharField(help_text="Pseudonymised at ingestion (keyed BLAKE2b); empty without consent.")
    user_id = serializers.CharField(help_text="Pseudonymised at ingestion; empty without consent.")
    source = serializers.CharField(help_text="The media source the SDK reported, if any.")
    campaign = serializers.CharField()
    revenue = serializers.DecimalField(max_digits=24, decimal_places=6)
    currency = serializers.CharField()
    properties = serializers.DictField(child=serializers.CharField(allow_blank=True))


@extend_schema_serializer(component_name="AnalyticsExplorer")
class ExplorerOut(serializers.Serializer):
    appId = serializers.UUIDField()
    receivedSince = serializers.DateTimeField()
    limit = serializers.IntegerField()
    events = ExplorerEventOut(many=True, help_text="Newest arrival first.")


class AnalyticsExplorerApi(APIView):
    """The app's latest events as stored, newest arrival first, at most ``limit`` (500)."""

    permission_classes = ANALYTICS_PERMISSION

    @extend_schema(parameters=[ExplorerQuery], responses={200: ExplorerOut, **REPORT_ERRORS})
    def get(self, request):
        query = parsed(ExplorerQuery, request.query_params)
        app = app_access(request=request, app_id=query["app_id"], permission="view_analytics")
        since = timezone.now() - dt.timedelta(hours=query["hours"])
        events = live_events.latest_events(
            app_id=app.id,
            received_since=since,
            oldest_timestamp=since - dt.timedelta(days=settings.INGEST_MAX_PAST_DAYS),
            limit=query["limit"],
            event_name=query["event_name"],
            device_id=query["device_id"],
        )
        out = ExplorerOut({"appId": app.id, "receivedSince": since, "limit": query["limit"], "events": events})
        return Response(out.data)
