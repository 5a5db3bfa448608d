"""/api/apps/*: apps, keys, signing secrets, attribution settings, tracking links, ad spend.

Reads need a role with ``apps:read`` and the per-app grant (readonly included); writes need the
``user`` or ``admin`` role and the per-app grant (``change_app``, or ``manage_keys`` for keys).
Every app lookup goes through ``app_access``: an app the caller may not see answers 404.
"""

import datetime as dt

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.rbac import roles
from accounts.rbac.permissions import RoleRequired
from accounts.rbac.selectors import app_access, apps_for_user
from core.errors import ApplicationError
from core.openapi import errors
from core.parsers import JSONParser

from . import costs, keys, links, services
from .models import AdSpend, ApiKey, App, AppPlatform, AttributionSettings, TrackingLink
from .models.tracking_link import (
    SUB_PARAM_KEY_PATTERN,
    SUB_PARAM_VALUE_MAX_LENGTH,
    SUB_PARAMS_MAX_ENTRIES,
    validate_sub_params,
)

Read = RoleRequired(roles.ADMIN, roles.USER, roles.READONLY, permission="apps:read")
Write = RoleRequired(roles.ADMIN, roles.USER, permission="apps:read")
# The route takes any string (a malformed id answers 404 like a foreign one); the contract is a UUID.
APP_ID = OpenApiParameter("app_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The app's id.")


class ReadWriteApi(APIView):
    """GET for readers; every other method for writers."""

    def get_permissions(self):
        return [Read() if self.request.method == "GET" else Write()]


def parsed(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- apps -----------------------------------------------------------------------------------------


@extend_schema_serializer(component_name="Platform")
class PlatformIn(serializers.Serializer):
    platform = serializers.ChoiceField(choices=AppPlatform.Platform.choices)
    bundle_id = serializers.CharField(max_length=255, required=False, allow_blank=True)
    store_id = serializers.CharField(max_length=255, required=False, allow_blank=True)
    store_url = serializers.URLField(required=False, allow_blank=True)
    web_domains = serializers.ListField(child=serializers.CharField(max_length=253), required=False, max_length=50)


@extend_schema_serializer(component_name="App")
class AppIn(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    timezone = serializers.CharField(max_length=64, required=False)
    currency = serializers.CharField(max_length=3, required=False)
    signing_policy = serializers.ChoiceField(choices=App.SigningPolicy.choices, required=False)
    platforms = PlatformIn(many=True, required=False)


@extend_schema_serializer(component_name="AppUpdate")
class AppPatch(AppIn):
    name = serializers.CharField(max_length=200, required=False)
    status = serializers.ChoiceField(choices=App.Status.choices, required=False)


def app_out(app: App) -> dict:
    return {
        "id": str(app.id),
        "name": app.name,
        "status": app.status,
        "timezone": app.timezone,
        "currency": app.currency,
        "signingPolicy": app.signing_policy,
        "platforms": [
            {
                "platform": p.platform,
                "bundleId": p.bundle_id,
                "storeId": p.store_id,
                "storeUrl": p.store_url,
                "webDomains": p.web_domains,
            }
            for p in app.platforms.all()
        ],
        "createdAt": app.created_at.isoformat(),
    }


@extend_schema_serializer(component_name="Platform")
class PlatformOut(serializers.Serializer):
    platform = serializers.ChoiceField(choices=AppPlatform.Platform.choices)
    bundleId = serializers.CharField()
    storeId = serializers.CharField()
    storeUrl = serializers.CharField()
    webDomains = serializers.ListField(child=serializers.CharField())


# The shape ``app_out`` returns, for the OpenAPI schema.
@extend_schema_serializer(component_name="App")
class AppOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=App.Status.choices)
    timezone = serializers.CharField()
    currency = serializers.CharField()
    signingPolicy = serializers.ChoiceField(choices=App.SigningPolicy.choices)
    platforms = PlatformOut(many=True)
    createdAt = serializers.DateTimeField()


class AppListApi(APIView):
    permission_classes = [Read]

    @extend_schema(
        operation_id="apps_list",
        parameters=[OpenApiParameter("status", OpenApiTypes.STR, enum=App.Status.values, description="Only these.")],
        responses={200: AppOut(many=True), **errors(401, 403)},
    )
    def get(self, request):
        apps = apps_for_user(user=request.user).prefetch_related("platforms")
        if status_filter := request.query_params.get("status"):
            apps = apps.filter(status=status_filter)
        return Response([app_out(app) for app in apps])


class AppCreateApi(APIView):
    permission_classes = [RoleRequired(roles.ADMIN, permission="apps:write")]

    @extend_schema(request=AppIn, responses={201: AppOut, **errors(400, 401, 403)})
    def post(self, request):
        app = services.app_create(owner=request.user, **parsed(AppIn, request.data))
        return Response(app_out(app), status=status.HTTP_201_CREATED)


class AppDetailApi(ReadWriteApi):
    """PATCH changes the app; archiving is ``{"status": "archived"}`` (apps are never deleted)."""

    @extend_schema(parameters=[APP_ID], responses={200: AppOut, **errors(401, 403, 404)})
    def get(self, request, app_id):
        return Response(app_out(app_access(request=request, app_id=app_id)))

    @extend_schema(parameters=[APP_ID], request=AppPatch, responses={200: AppOut, **errors(400, 401, 403, 404)})
    def patch(self, request, app_id):
        app = app_access(request=request, app_id=app_id, permission="change_app")
        return Response(app_out(services.app_update(app=app, **parsed(AppPatch, request.data))))


# --- API keys and signing secrets ---------------------------------------------------------------------


def key_out(key: ApiKey) -> dict:
    return {
        "id": str(key.id),
        "name": key.name,
        "prefix": f"ump_{key.prefix}_",
        "createdAt": key.created_at.isoformat(),
        "lastUsedAt": key.last_used_at.isoformat() if key.last_used_at else None,
        "expiresAt": key.expires_at.isoformat() if key.expires_at else None,
        "revokedAt": key.revoked_at.isoformat() if key.revoked_at else None,
        "active": key.is_usable(),
    }


# The shape ``key_out`` returns, for the OpenAPI schema.
@extend_schema_serializer(component_name="ApiKey")
class KeyOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The key's visible start, e.g. ump_ab12cd34_.")
    createdAt = serializers.DateTimeField()
    lastUsedAt = serializers.DateTimeField(allow_null=True)
    expiresAt = serializers.DateTimeField(allow_null=True)
    revokedAt = serializers.DateTimeField(allow_null=True)
    active = serializers.BooleanField()


@extend_schema_serializer(component_name="NewApiKey")
class NewKeyOut(KeyOut):
    key = serializers.CharField(help_text="The whole key, shown this once: send it as X-Api-Key.")


@extend_schema_serializer(component_name="RotatedApiKey")
class RotatedKeyOut(NewKeyOut):
    previous = KeyOut(help_text="The old key, usable until its expiresAt; revoked at once when overlap_hours is 0.")


@extend_schema_serializer(component_name="ApiKey")
class KeyIn(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, default="")


@extend_schema_serializer(component_name="KeyRotation")
class RotateIn(serializers.Serializer):
    overlap_hours = serializers.IntegerField(min_value=0, max_value=24 * 30, default=24)


class KeyListApi(APIView):
    permission_classes = [Write]

    @extend_schema(parameters=[APP_ID], responses={200: KeyOut(many=True), **errors(401, 403, 404)})
    def get(self, request, app_id):
        app = app_access(request=request, app_id=app_id, permission="manage_keys")
        return Response([key_out(key) for key in app.api_keys.all()])

    @extend_schema(parameters=[APP_ID], request=KeyIn, responses={201: NewKeyOut, **errors(400, 401, 403, 404)})
    def post(self, request, app_id):
        app = app_access(request=request, app_id=app_id, permission="manage_keys")
        key, raw_key = keys.api_key_create(app=app, created_by=request.user, **parsed(KeyIn, request.data))
        return Response({**key_out(key), "key": raw_key}, status=status.HTTP_201_CREATED)


class KeyRevokeApi(APIView):
    permission_classes = [Write]

    @extend_schema(parameters=[APP_ID], request=None, responses={200: KeyOut, **errors(401, 403, 404)})
    def post(self, request, app_id, key_id):
        app = app_access(request=request, app_id=app_id, permission="manage_keys")
        return Response(key_out(keys.api_key_revoke(key=get_object_or_404(ApiKey, app=app, id=key_id))))


class KeyRotateApi(APIView):
    permission_classes = [Write]

    @extend_schema(parameters=[APP_ID], request=RotateIn, responses={201: RotatedKeyOut, **errors(400, 401, 403, 404)})
    def post(self, request, app_id, key_id):
        app = app_access(request=request, app_id=app_id, permission="manage_keys")
        old = get_object_or_404(ApiKey, app=app, id=key_id, revoked_at__isnull=True)
        overlap = dt.timedelta(hours=parsed(RotateIn, request.data)["overlap_hours"])
        new, raw_key = keys.api_key_rotate(key=old, created_by=request.user, overlap=overlap)
        return Response({**key_out(new), "key": raw_key, "previous": key_out(old)}, status=status.HTTP_201_CREATED)


class SigningSecretRotateApi(APIView):
    """Shows the app's new request-signing secret once; the previous one stops working at once."""

    permission_classes = [Write]

    @extend_schema_serializer(component_name="SigningSecret")
    class Output(serializers.Serializer):
        version = serializers.IntegerField()
        secret = serializers.CharField(help_text="Shown this once: the HMAC key for X-Ump-Signature.")

    @extend_schema(parameters=[APP_ID], request=None, responses={201: Output, **errors(401, 403, 404)})
    def post(self, request, app_id):
        app = app_access(request=request, app_id=app_id, permission="manage_keys")
        secret = keys.signing_secret_rotate(app=app)
        return Response({"version": app.signing_secret_version, "secret": secret}, status=status.HTTP_201_CREATED)


# --- attribution settings ---------------------------------------------------------------------------


@extend_schema_serializer(component_name="AttributionRules")
class SettingsIn(serializers.ModelSerializer):
    class Meta:
        model = AttributionSettings
        fields = AttributionSettings.RULE_FIELDS


def settings_out(version: AttributionSettings) -> dict:
    return {"version": version.version, "changedAt": version.changed_at.isoformat(), "settings": version.rules()}


# The shape ``settings_out`` returns, for the OpenAPI schema.
@extend_schema_serializer(component_name="AttributionSettings")
class SettingsOut(serializers.Serializer):
    version = serializers.IntegerField()
    changedAt = serializers.DateTimeField()
    settings = SettingsIn()


class SettingChange(serializers.Serializer):
    old = serializers.JSONField()
    new = serializers.JSONField()


# One entry of ``services.settings_history``, for the OpenAPI schema.
@extend_schema_serializer(component_name="AttributionSettingsVersion")
class SettingsVersionOut(SettingsOut):
    changedBy = serializers.EmailField(allow_null=True)
    changes = serializers.DictField(child=SettingChange(), help_text="Rule name -> old and new value.")


class SettingsApi(ReadWriteApi):
    @extend_schema(parameters=[APP_ID], responses={200: SettingsOut, **errors(401, 403, 404)})
    def get(self, request, app_id):
        app = app_access(request=request, app_id=app_id)
        return Response(settings_out(services.settings_current(app=app)))

    @extend_schema(
        parameters=[APP_ID],
        request=SettingsIn(partial=True),
        responses={200: SettingsOut, **errors(400, 401, 403, 404)},
    )
    def patch(self, request, app_id):
        app = app_access(request=request, app_id=app_id, permission="change_app")
        changes = parsed(SettingsIn, request.data, partial=True)
        return Response(settings_out(services.settings_update(app=app, changed_by=request.user, **changes)))


class SettingsHistoryApi(APIView):
    permission_classes = [Read]

    @extend_schema(parameters=[APP_ID], responses={200: SettingsVersionOut(many=True), **errors(401, 403, 404)})
    def get(self, request, app_id):
        return Response(services.settings_history(app=app_access(request=request, app_id=app_id)))


# --- tracking links ----------------------------------------------------------------------------------


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": SUB_PARAMS_MAX_ENTRIES,
        "propertyNames": {"pattern": SUB_PARAM_KEY_PATTERN},
        "additionalProperties": {"type": "string", "maxLength": SUB_PARAM_VALUE_MAX_LENGTH},
    }
)
class SubParamsField(serializers.JSONField):
    """A link's sub_params: any JSON to the parser, checked by the model's validator; the schema
    above documents the shape that validator accepts."""


@extend_schema_serializer(component_name="TrackingLink")
class LinkIn(serializers.ModelSerializer):
    sub_params = SubParamsField(required=False, validators=[validate_sub_params])

    class Meta:
        model = TrackingLink
        fields = links.LINK_FIELDS


def link_out(link: TrackingLink) -> dict:
    return {
        "id": str(link.id),
        "code": link.code,
        **{field: getattr(link, field) for field in links.LINK_FIELDS},
        **links.link_urls(link),
        "createdAt": link.created_at.isoformat(),
    }


# The shape ``link_out`` returns, for the OpenAPI schema.
@extend_schema_serializer(component_name="TrackingLink")
class LinkOut(LinkIn):
    clickUrl = serializers.URLField()
    impressionUrl = serializers.URLField()
    clickUrlWithMacros = serializers.CharField(help_text="With the network's macros, e.g. click_id={click_id}.")
    impressionUrlWithMacros = serializers.CharField()
    createdAt = serializers.DateTimeField()

    class Meta:
        model = TrackingLink
        fields = (
            "id",
            "code",
            *links.LINK_FIELDS,
            "clickUrl",
            "impressionUrl",
            "clickUrlWithMacros",
            "impressionUrlWithMacros",
            "createdAt",
        )


class LinkListApi(ReadWriteApi):
    @extend_schema(
        operation_id="apps_links_list",
        parameters=[APP_ID],
        responses={200: LinkOut(many=True), **errors(401, 403, 404)},
    )
    def get(self, request, app_id):
        app = app_access(request=request, app_id=app_id)
        return Response([link_out(link) for link in app.links.all()])

    @extend_schema(parameters=[APP_ID], request=LinkIn, responses={201: LinkOut, **errors(400, 401, 403, 404)})
    def post(self, request, app_id):
        app = app_access(request=request, app_id=app_id, permission="change_app")
        link = links.link_create(app=app, created_by=request.user, **parsed(LinkIn, request.data))
        return Response(link_out(link), status=status.HTTP_201_CREATED)


class LinkDetailApi(ReadWriteApi):
    """PATCH changes a link; ``{"status": "archived"}`` retires it (its code then answers 404)."""

    @extend_schema(parameters=[APP_ID], responses={200: LinkOut, **errors(401, 403, 404)})
    def get(self, request, app_id, link_id):
        app = app_access(request=request, app_id=app_id)
        return Response(link_out(get_object_or_404(TrackingLink, app=app, id=link_id)))

    @extend_schema(
        parameters=[APP_ID], request=LinkIn(partial=True), responses={200: LinkOut, **errors(400, 401, 403, 404)}
    )
    def patch(self, request, app_id, link_id):
        app = app_access(request=request, app_id=app_id, permission="change_app")
        link = get_object_or_404(TrackingLink, app=app, id=link_id)
        return Response(link_out(links.link_update(link=link, **parsed(LinkIn, request.data, partial=True))))


# --- ad spend ---------------------------------------------------------------------------------------


class CsvParser(BaseParser):
    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        return {"csv": costs.csv_text(stream.read())}


@extend_schema_serializer(component_name="AdSpend")
class AdSpendOut(serializers.Serializer):
    date = serializers.DateField()
    source = serializers.CharField()
    campaign = serializers.CharField()
    adset = serializers.CharField()
    ad = serializers.CharField()
    currency = serializers.CharField()
    cost = serializers.DecimalField(max_digits=18, decimal_places=6)
    impressions = serializers.IntegerField(allow_null=True)
    clicks = serializers.IntegerField(allow_null=True)


@extend_schema_serializer(component_name="CostsCsv")
class CostsCsvIn(serializers.Serializer):
    csv = serializers.CharField(help_text="CSV with a header: date,source,campaign,currency,cost[,adset,ad,...].")


@extend_schema_serializer(component_name="CostsImport")
class CostsImportOut(serializers.Serializer):
    rows = serializers.IntegerField()
    totalCost = serializers.DictField(child=serializers.DecimalField(max_digits=24, decimal_places=6))


class CostsApi(ReadWriteApi):
    """POST a CSV (``text/csv`` body, or JSON ``{"csv": "..."}``): imported whole or not at all."""

    parser_classes = [CsvParser, JSONParser]

    @extend_schema(parameters=[APP_ID], responses={200: AdSpendOut(many=True), **errors(401, 403, 404)})
    def get(self, request, app_id):
        app = app_access(request=request, app_id=app_id)
        rows = AdSpend.objects.filter(app=app).order_by("date", "source", "campaign", "adset", "ad")[:5000]
        return Response(
            [
                {
                    "date": r.date.isoformat(),
                    "source": r.source,
                    "campaign": r.campaign,
                    "adset": r.adset,
                    "ad": r.ad,
                    "currency": r.currency,
                    "cost": str(r.cost),
                    "impressions": r.impressions,
                    "clicks": r.clicks,
                }
                for r in rows
            ]
        )

    @extend_schema(
        parameters=[APP_ID],
        request={"text/csv": OpenApiTypes.STR, "application/json": CostsCsvIn},
        responses={
            200: CostsImportOut,
            **errors(400, 401, 403, 404, e400="No CSV, or bad lines (listed in `extra.lines`): nothing imported."),
        },
    )
    def post(self, request, app_id):
        app = app_access(request=request, app_id=app_id, permission="change_app")
        data = request.data.get("csv") if isinstance(request.data, dict) else None
        if not isinstance(data, str) or not data.strip():
            raise ApplicationError('Send the CSV as a text/csv body or as JSON {"csv": "..."}.')
        result = costs.costs_import(data=data, app=app)
        return Response({"rows": result.rows, "totalCost": {c: str(v) for c, v in result.total_cost.items()}})
