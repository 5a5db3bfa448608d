"""/api/admin/apps/{app_id}/...: data-subject requests and opt-outs, for admins (``admin:*``).

POST subjects/export            everything stored about one subject, at once (JSON)
POST subjects/erasure           erase one subject everywhere: 202, then the job runs and verifies it
GET  subject-requests[/{id}]    the requests and their outcomes
GET, POST opt-outs; DELETE opt-outs/{id}
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.rbac import roles
from accounts.rbac.permissions import RoleRequired
from accounts.rbac.selectors import app_access
from core.apis import parsed
from core.openapi import errors
from events.models import OptOut, SubjectKind, SubjectRequest
from events.personal_data import TABLES

from . import services

AdminOnly = RoleRequired(roles.ADMIN, permission="admin:*")
SUBJECT_TABLES = [table.name for table in TABLES if table.user_filter or table.device_filter]


@extend_schema_serializer(component_name="DataSubject")
class SubjectIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=SubjectKind.choices, help_text="user, or the kind of device id.")
    value = serializers.CharField(
        max_length=512, required=False, default="", help_text="The identifier as the app sent it; never stored."
    )
    pseudonym = serializers.CharField(
        max_length=32, required=False, default="", help_text="Or its stored pseudonym (32 hex characters)."
    )


@extend_schema_serializer(component_name="SubjectRequest")
class SubjectRequestOut(serializers.Serializer):
    id = serializers.UUIDField()
    appId = serializers.UUIDField(source="app_id")
    action = serializers.ChoiceField(choices=SubjectRequest.Action.choices)
    kind = serializers.ChoiceField(choices=SubjectKind.choices)
    pseudonym = serializers.CharField()
    status = serializers.ChoiceField(choices=SubjectRequest.Status.choices)
    requestedBy = serializers.EmailField(source="requested_by.email", allow_null=True, default=None)
    requestedAt = serializers.DateTimeField(source="requested_at")
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)
    outcome = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField()),
        help_text='Per store: {"found": rows} and, for an erasure, {"left": rows when verified}.',
    )
    error = serializers.CharField()


@extend_schema_serializer(component_name="SubjectExport")
class SubjectExportOut(serializers.Serializer):
    request = SubjectRequestOut()
    tables = serializers.DictField(
        child=serializers.ListField(child=serializers.DictField()),
        help_text=f"The subject's rows per table ({', '.join(SUBJECT_TABLES)}) and in outbox, those not stored "
        "yet. Identifiers appear as their pseudonyms.",
    )


@extend_schema_serializer(component_name="OptOut")
class OptOutOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=SubjectKind.choices)
    pseudonym = serializers.CharField()
    createdAt = serializers.DateTimeField(source="created_at")


def _subject(request, app):
    data = parsed(SubjectIn, request.data)
    return services.subject_of(app=app, **data)


class SubjectExportApi(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(
        request=SubjectIn,
        responses={200: SubjectExportOut, **errors(400, 401, 403, 404)},
        description="Every event, touchpoint, attribution and dead letter of one data subject of the app, "
        "and its rows still on the bus. Recorded as a subject request and in the security log.",
    )
    def post(self, request, app_id):
        app = app_access(request=request, app_id=app_id)
        export = services.subject_export(app=app, subject=_subject(request, app), requested_by=request.user)
        return Response(SubjectExportOut(export).data)


class SubjectErasureApi(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(
        request=SubjectIn,
        responses={202: SubjectRequestOut, **errors(400, 401, 403, 404)},
        description="Erase one data subject of the app from every store (ClickHouse tables, dead letters, "
        "the bus's pending messages). Runs in the background; follow it at subject-requests/{id} until done "
        "(every store queried again and found empty) or failed.",
    )
    def post(self, request, app_id):
        app = app_access(request=request, app_id=app_id)
        erasure = services.subject_erasure_request(app=app, subject=_subject(request, app), requested_by=request.user)
        return Response(SubjectRequestOut(erasure).data, status=status.HTTP_202_ACCEPTED)


class SubjectRequestListApi(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(responses={200: SubjectRequestOut(many=True), **errors(401, 403, 404)})
    def get(self, request, app_id):
        app = app_access(request=request, app_id=app_id)
        requests = SubjectRequest.objects.filter(app=app).select_related("requested_by")[:500]
        return Response(SubjectRequestOut(requests, many=True).data)


class SubjectRequestApi(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(responses={200: SubjectRequestOut, **errors(401, 403, 404)})
    def get(self, request, app_id, request_id):
        app = app_access(request=request, app_id=app_id)
        return Response(SubjectRequestOut(get_object_or_404(SubjectRequest, app=app, pk=request_id)).data)


class OptOutListApi(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(responses={200: OptOutOut(many=True), **errors(401, 403, 404)})
    def get(self, request, app_id):
        app = app_access(request=request, app_id=app_id)
        return Response(OptOutOut(OptOut.objects.filter(app=app).order_by("-id")[:1000], many=True).data)

    @extend_schema(
        request=SubjectIn,
        responses={201: OptOutOut, **errors(400, 401, 403, 404, 409, e409="This subject has opted out already.")},
        description="From now on the subject's events and touchpoints are dropped at the edge (and by the consumer).",
    )
    def post(self, request, app_id):
        app = app_access(request=request, app_id=app_id)
        opt_out = services.opt_out_add(app=app, subject=_subject(request, app), created_by=request.user)
        return Response(OptOutOut(opt_out).data, status=status.HTTP_201_CREATED)


class OptOutApi(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def delete(self, request, app_id, opt_out_id):
        app = app_access(request=request, app_id=app_id)
        services.opt_out_remove(opt_out=get_object_or_404(OptOut, app=app, pk=opt_out_id), removed_by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
