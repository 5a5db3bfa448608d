from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import roles
from accounts.permissions import RoleRequired
from apps_registry.selectors import app_access
from attribution.errors import ApplicationError
from attribution.openapi import errors

from . import selectors


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
        explanation = selectors.conversion_explanation(app=app, conversion_id=event_id)
        if explanation is None:
            raise ApplicationError(
                "No attribution for this event: it is not a conversion, or the engine has not reached it yet.",
                status_code=404,
            )
        return Response(explanation)
