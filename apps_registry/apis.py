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
from core.apis import parsed
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
# The seed's matrix: /api/apps/{id}/* is for user or admin with access to that app. The per-app grant
# (change_app, manage_keys) is the permission: app_access checks it in each view.
Write = RoleRequired(roles.ADMIN, roles.USER, permission=None)
# The route takes any string (a malformed id answers 404 like a foreign one); the contract is a UUID.
APP_ID = OpenApiParameter("app_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The app's id.")


class ReadWriteApi(APIView):
    """GET for readers; every other method for writers."""

    def get_permissions(self):
        return [Read() if self.request.method == "GET" else Write()]


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


@extend_schema_serializer(component_name="Platform")
class PlatformOut(serializers.Serializer):
    platform = serializers.ChoiceField(choices=AppPlatform.Platform.choices)
    bundleId = serializers.CharField(source="bundle_id")
    storeId = serializers.CharField(source="store_id")
    storeUrl = serializers.CharField(source="store_url")
    webDomains = serializers.ListField(child=serializers.CharField(), source="web_domains")


@extend_schema_serializer(component_name="App")
class AppOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=App.Status.choices)
    timezone = serializers.CharField()
    currency = serializers.CharField()
    signingPolicy = serializers.ChoiceField(choices=App.SigningPolicy.choices, source="signing_policy")
    platforms = PlatformOut(many=True, source="platforms.all")
    createdAt = serializers.DateTimeField(source="created_at")


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
        return Response(AppOut(apps, many=True).data)


class AppCreateApi(APIView):
    permission_classes = [RoleRequired(roles.ADMIN, permission="apps:write")]

    @extend_schema(request=AppIn, responses={201: AppOut, **errors(400, 401, 403)})
    def post(self, request):
        app = services.app_create(owner=request.user, **parsed(AppIn, request.data))
        return Response(AppOut(app).data, status=status.HTTP_201_CREATED)


class AppDetailApi(ReadWriteApi):
    """PATCH changes the app; archiving is ``{"status": "archived"}`` (apps are never deleted)."""

    @extend_schema(parameters=[APP_ID], responses={200: AppOut, **errors(401, 403, 404)})
    def get(self, request, app_id):
        return Response(AppOut(app_access(request=request, app_id=app_id)).data)

    @extend_schema(parameters=[APP_ID], request=AppPatch, responses={200: AppOut, **errors(400, 401, 403, 404)})
    def patch(self, request, app_id):
        app = app_access(request=request, app_id=app_id, permission="change_app")
        return Response(AppOut(services.app_update(app=app, **parsed(AppPatch, request.data))).data)


# --- API keys and signing secrets ---------------------------------------------------------------------


@extend_schema_serializer(component_name="ApiKey")
class KeyOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField(source="visible_start", help_text="The key's visible start, e.g. ump_ab12cd34_.")
    createdAt = serializers.DateTimeField(source="created_at")
    lastUsedAt = serializers.DateTimeField(source="last_used_at", allow_null=True)
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    revokedAt = serializers.DateTimeField(source="revoked_at", allow_null=True)
    active = serializers.BooleanField(source="is_usable")


@extend_schema_serializer(component_name="NewApiKey")
class NewKeyOut(KeyOut):
    """A key just issued (``keys.IssuedKey``), the one time its secret is shown."""

    key = serializers.CharField(help_text="The whole key, shown this once: send it as X-Api-Key.")

    def to_representation(self, issued: keys.IssuedKey):
        return {**KeyOut(issued.key).data, "key": issued.raw}


@extend_schema_serializer(component_name="RotatedApiKey")
class RotatedKeyOut(NewKeyOut):
    previous = KeyOut(help_text="The old key, usable until its expiresAt; revoked at once when overlap_hours is 0.")

    def to_representation(self, issued: keys.RotatedKey):
        return {**KeyOut(issued.key).data, "key": issued.raw, "previous": KeyOut(issued.previous).data}


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
        return Response(KeyOut(app.api_keys.all(), many=True).data)

    @extend_schema(parameters=[APP_ID], request=KeyIn, responses={201: NewKeyOut, **errors(400, 401, 403, 404)})
    def post(self, request, app_id):
        app = app_access(request=request, app_id=app_id, permission="manage_keys")
        issued = keys.api_key_create(app=app, created_by=request.user, **parsed(KeyIn, request.data))
        return Response(NewKeyOut(issued).data, status=status.HTTP_201_CREATED)


class KeyRevokeApi(APIView):
    permission_classes = [Write]

    @extend_schema(parameters=[APP_ID], request=None, responses={200: KeyOut, **errors(401, 403, 404)})
    def post(self, request, app_id, key_id):
        app = app_access(request=request, app_id=app_id, permission="manage_keys")
        return Response(KeyOut(keys.api_key_revoke(key=get_object_or_404(ApiKey, app=app, id=key_id))).data)


class KeyRotateApi(APIView):
    permission_classes = [Write]

    @extend_schema(parameters=[APP_ID], request=RotateIn, responses={201: RotatedKeyOut, **errors(400, 401, 403, 404)})
    def post(self, request, app_id, key_id):
        app = app_access(request=request, app_id=app_id, permission="manage_keys")
        old = get_object_or_404(ApiKey, app=app, id=key_id, revoked_at__isnull=True)
        overlap = dt.timedelta(hours=parsed(RotateIn, request.data)["overlap_hours"])
        issued = keys.api_key_rotate(key=old, created_by=request.user, overlap=overlap)
        return Response(RotatedKeyOut(issued).data, status=status.HTTP_201_CREATED)


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
        output = self.Output({"version": app.signing_secret_version, "secret": secret})
        return Response(output.data, status=status.HTTP_201_CREATED)


# --- attribution settings ---------------------------------------------------------------------------


@extend_schema_serializer(component_name="AttributionRules")
class SettingsIn(serializers.ModelSerializer):
    class Meta:
        model = AttributionSettings
        fields = AttributionSettings.RULE_FIELDS


@extend_schema_serializer(component_name="AttributionSettings")
class SettingsOut(serializers.Serializer):
    version = serializers.IntegerField()
    changedAt = serializers.DateTimeField(source="changed_at")
    settings = SettingsIn(source="*")


class SettingChange(serializers.Serializer):
    old = serializers.JSONField()
    new = serializers.JSONField()


@extend_schema_serializer(component_name="AttributionSettingsVersion")
class SettingsVersionOut(serializers.Serializer):
    """One ``services.SettingsChange``: a version and what it changed from the one before."""

    version = serializers.IntegerField(source="settings.version")
    changedAt = serializers.DateTimeField(source="settings.changed_at")
    settings = SettingsIn()
    changedBy = serializers.EmailField(source="settings.changed_by.email", allow_null=True)
    changes = serializers.DictField(child=SettingChange(), help_text="Rule name -> old and new value.")


class SettingsApi(ReadWriteApi):
    @extend_schema(parameters=[APP_ID], responses={200: SettingsOut, **errors(401, 403, 404)})
    def get(self, request, app_id):
        app = app_access(request=request, app_id=app_id)
        return Response(SettingsOut(services.settings_current(app=app)).data)

    @extend_schema(
        parameters=[APP_ID],
        request=SettingsIn(partial=True),
        responses={200: SettingsOut, **errors(400, 401, 403, 404)},
    )
    def patch(self, request, app_id):
        app = app_access(request=request, app_id=app_id, permission="change_app")
        changes = parsed(SettingsIn, request.data, partial=True)
        return Response(SettingsOut(services.settings_update(app=app, changed_by=request.user, **changes)).data)


class SettingsHistoryApi(APIView):
    permission_classes = [Read]

    @extend_schema(parameters=[APP_ID], responses={200: SettingsVersionOut(many=True), **errors(401, 403, 404)})
    def get(self, request, app_id):
        return Response(
            SettingsVersionOut(
                services.settings_history(app=app_access(request=request, app_id=app_id)), many=True
            ).data
        )


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


@extend_schema_serializer(component_name="TrackingLink")
class LinkOut(LinkIn):
    clickUrl = serializers.URLField(source="click_url")
    impressionUrl = serializers.URLField(source="impression_url")
    clickUrlWithMacros = serializers.CharField(
        source="click_url_with_macros", help_text="With the network's macros, e.g. click_id={click_id}."
    )
    impressionUrlWithMacros = serializers.CharField(source="impression_url_with_macros")
    createdAt = serializers.DateTimeField(source="created_at")

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
        return Response(LinkOut(app.links.all(), many=True).data)

    @extend_schema(parameters=[APP_ID], request=LinkIn, responses={201: LinkOut, **errors(400, 401, 403, 404)})
    def post(self, request, app_id):
        app = app_access(request=request, app_id=app_id, permission="change_app")
        link = links.link_create(app=app, created_by=request.user, **parsed(LinkIn, request.data))
        return Response(LinkOut(link).data, status=status.HTTP_201_CREATED)


class LinkDetailApi(ReadWriteApi):
    """PATCH changes a link; ``{"status": "archived"}`` retires it (its code then answers 404)."""

    @extend_schema(parameters=[APP_ID], responses={200: LinkOut, **errors(401, 403, 404)})
    def get(self, request, app_id, link_id):
        app = app_access(request=request, app_id=app_id)
        return Response(LinkOut(get_object_or_404(TrackingLink, app=app, id=link_id)).data)

    @extend_schema(
        parameters=[APP_ID], request=LinkIn(partial=True), responses={200: LinkOut, **errors(400, 401, 403, 404)}
    )
    def patch(self, request, app_id, link_id):
        app = app_access(request=request, app_id=app_id, permission="change_app")
        link = get_object_or_404(TrackingLink, app=app, id=link_id)
        return Response(LinkOut(links.link_update(link=link, **parsed(LinkIn, request.data, partial=True))).data)


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
    totalCost = serializers.DictField(  # the sums of the costs as written in the file
        child=serializers.DecimalField(max_digits=None, decimal_places=None), source="total_cost"
    )


class CostsApi(ReadWriteApi):
    """POST a CSV (``text/csv`` body, or JSON ``{"csv": "..."}``): imported whole or not at all."""

    parser_classes = [CsvParser, JSONParser]

    @extend_schema(parameters=[APP_ID], responses={200: AdSpendOut(many=True), **errors(401, 403, 404)})
    def get(self, request, app_id):
        app = app_access(request=request, app_id=app_id)
        rows = AdSpend.objects.filter(app=app).order_by("date", "source", "campaign", "adset", "ad")[:5000]
        return Response(AdSpendOut(rows, many=True).data)

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
        return Response(CostsImportOut(result).data)
