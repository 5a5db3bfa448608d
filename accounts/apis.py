"""Auth and admin APIs. Each view parses, authorizes, calls one service or selector, serializes."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.apis import parsed
from core.openapi import errors

from . import services, tokens
from .models import SecurityEvent, User
from .rbac import roles
from .rbac import services as rbac
from .rbac.authz import granted_model
from .rbac.permissions import RoleRequired
from .selectors import user_profile

AdminOnly = RoleRequired(roles.ADMIN, permission="admin:*")
ROLE_NAMES = roles.ROLES
LOCKED_OUT = "Too many failed sign-ins for this account or address; retry after `Retry-After` seconds."


@extend_schema_serializer(component_name="Profile")
class ProfileOut(serializers.Serializer):
    """A ``selectors.Profile``."""

    userId = serializers.UUIDField(source="user.pk")
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.name")
    roles = serializers.ListField(child=serializers.ChoiceField(choices=roles.ROLES), source="access.role_names")
    permissions = serializers.ListField(
        child=serializers.CharField(), source="access.permission_names", help_text="Seed names, e.g. apps:read."
    )
    appAccess = serializers.ListField(
        child=serializers.UUIDField(), source="access.app_ids", help_text="Apps with at least one grant."
    )


def profile_response(user: User) -> Response:
    return Response(ProfileOut(user_profile(user=user)).data)


@extend_schema_serializer(component_name="TokenPair")
class TokenPairOut(serializers.Serializer):
    access = serializers.CharField(help_text="Short-lived JWT: send as `Authorization: Bearer <access>`.")
    refresh = serializers.CharField(help_text="Rotating refresh token for /api/auth/refresh; each works once.")


class PublicApi(APIView):
    """Endpoints that take credentials in the body (login, refresh, register): no prior authentication,
    and a credential failure answers 401 with a WWW-Authenticate challenge."""

    permission_classes = [AllowAny]
    authentication_classes = []

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'


class LoginApi(PublicApi):
    @extend_schema_serializer(component_name="Login")
    class Input(serializers.Serializer):
        email = serializers.CharField(max_length=254)
        password = serializers.CharField(max_length=4096, trim_whitespace=False)

    @extend_schema(
        description="Sign in: a JWT access token and a rotating refresh token.",
        request=Input,
        responses={
            200: TokenPairOut,
            **errors(400, 401, 429, e401="Wrong email or password (or an inactive account).", e429=LOCKED_OUT),
        },
        auth=[],
    )
    def post(self, request):
        data = parsed(self.Input, request.data)
        return Response(TokenPairOut(services.user_login(request=request, **data)).data)


class RegisterApi(PublicApi):
    @extend_schema_serializer(component_name="Register")
    class Input(serializers.Serializer):
        email = serializers.EmailField()
        password = serializers.CharField(max_length=4096, trim_whitespace=False)
        name = serializers.CharField(max_length=255, required=False, default="")
        invitation = serializers.CharField(max_length=200, required=False, default="")

    @extend_schema_serializer(component_name="Registration")
    class Output(serializers.Serializer):
        message = serializers.CharField()

    RECEIVED = {
        "message": "Registration received. Sign in with this email and password; if the email already had an "
        "account, that account and its password are unchanged."
    }

    @extend_schema(
        description="Create an account (when REGISTRATION_POLICY allows: open, or invite with an invitation token). "
        "The answer is the same whether or not the email already has an account (which is then left as it is), "
        "so registration does not tell which emails have accounts.",
        request=Input,
        responses={202: Output, **errors(400, 403, e403="Registration is closed, or the invitation is not valid.")},
        auth=[],
    )
    def post(self, request):
        data = parsed(self.Input, request.data)
        services.user_register(request=request, **data)
        return Response(self.Output(self.RECEIVED).data, status=status.HTTP_202_ACCEPTED)


class RefreshApi(PublicApi):
    @extend_schema_serializer(component_name="Refresh")
    class Input(serializers.Serializer):
        refresh = serializers.CharField(max_length=4096)

    @extend_schema(
        description="Trade a refresh token for a new pair; the old refresh token stops working.",
        request=Input,
        responses={
            200: TokenPairOut,
            **errors(400, 401, e401="Invalid, expired or already used refresh token (reuse revokes the login)."),
        },
        auth=[],
    )
    def post(self, request):
        data = parsed(self.Input, request.data)
        return Response(TokenPairOut(tokens.rotate(data["refresh"], request)).data)


class LogoutApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema_serializer(component_name="Logout")
    class Input(serializers.Serializer):
        refresh = serializers.CharField(max_length=4096)

    @extend_schema(
        request=Input,
        description="End one of the caller's own logins (its refresh and access tokens).",
        responses={
            204: None,
            **errors(400, 401, e401="Not signed in, or the refresh token is not valid or not the caller's own."),
        },
    )
    def post(self, request):
        data = parsed(self.Input, request.data)
        tokens.logout(data["refresh"], request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: ProfileOut, **errors(401)})
    def get(self, request):
        return profile_response(request.user)


# --- /api/admin/* ---------------------------------------------------------------------------------


@extend_schema_serializer(component_name="AdminUser")
class AdminUserOut(serializers.Serializer):
    userId = serializers.UUIDField(source="pk")
    email = serializers.EmailField()
    name = serializers.CharField()
    isActive = serializers.BooleanField(source="is_active")
    roles = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=ROLE_NAMES)))
    def get_roles(self, user: User) -> list[str]:
        return sorted(g.name for g in user.groups.all() if g.name in ROLE_NAMES)


class AdminUserListApi(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(responses={200: AdminUserOut(many=True), **errors(401, 403)})
    def get(self, request):
        users = User.objects.prefetch_related("groups").order_by("email")[:500]
        return Response(AdminUserOut(users, many=True).data)


class AdminUserRolesApi(APIView):
    """POST {"role": "user"} grants a role."""

    permission_classes = [AdminOnly]

    @extend_schema_serializer(component_name="RoleGrant")
    class Input(serializers.Serializer):
        role = serializers.ChoiceField(choices=roles.ROLES)

    @extend_schema(request=Input, responses={200: ProfileOut, **errors(400, 401, 403, 404)})
    def post(self, request, user_id):
        user = get_object_or_404(User, pk=user_id)
        data = parsed(self.Input, request.data)
        rbac.role_grant(user=user, role=data["role"])
        return profile_response(user)


class AdminUserRoleApi(APIView):
    """DELETE revokes the role in the path."""

    permission_classes = [AdminOnly]

    @extend_schema(
        parameters=[OpenApiParameter("role", str, OpenApiParameter.PATH, enum=roles.ROLES)],
        responses={204: None, **errors(400, 401, 403, 404)},
    )
    def delete(self, request, user_id, role):
        user = get_object_or_404(User, pk=user_id)
        rbac.role_revoke(user=user, role=role)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AdminUserAppAccessApi(APIView):
    """PUT {"permissions": ["view_app", "view_analytics"]} grants; DELETE revokes (all, or ?permission=)."""

    permission_classes = [AdminOnly]

    @extend_schema_serializer(component_name="AppAccessGrant")
    class Input(serializers.Serializer):
        permissions = serializers.ListField(child=serializers.ChoiceField(choices=list(roles.APP_PERMISSIONS)))

    @extend_schema(request=Input, responses={200: ProfileOut, **errors(400, 401, 403, 404)})
    def put(self, request, user_id, app_id):
        user = get_object_or_404(User, pk=user_id)
        app = get_object_or_404(granted_model(), pk=app_id)
        data = parsed(self.Input, request.data)
        rbac.app_access_grant(user=user, app=app, permissions=data["permissions"])
        return profile_response(user)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "permission",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                many=True,
                enum=list(roles.APP_PERMISSIONS),
                description="Revoke only these (repeatable); absent: revoke every grant on the app.",
            )
        ],
        responses={204: None, **errors(400, 401, 403, 404)},
    )
    def delete(self, request, user_id, app_id):
        user = get_object_or_404(User, pk=user_id)
        app = get_object_or_404(granted_model(), pk=app_id)
        rbac.app_access_revoke(user=user, app=app, permissions=request.query_params.getlist("permission"))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AdminUserUnlockApi(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(request=None, responses={204: None, **errors(401, 403, 404)})
    def post(self, request, user_id):
        services.login_unlock(user=get_object_or_404(User, pk=user_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AdminInvitationApi(APIView):
    permission_classes = [AdminOnly]

    @extend_schema_serializer(component_name="InvitationCreate")
    class Input(serializers.Serializer):
        email = serializers.EmailField()
        role = serializers.ChoiceField(choices=roles.ROLES)

    @extend_schema_serializer(component_name="Invitation")
    class Output(serializers.Serializer):
        invitation = serializers.CharField(help_text="The invitation token, shown once: hand it to the invitee.")
        email = serializers.EmailField()

    @extend_schema(
        request=Input,
        responses={201: Output, **errors(400, 401, 403)},
    )
    def post(self, request):
        data = parsed(self.Input, request.data)
        token = services.invitation_create(actor=request.user, **data)
        return Response(self.Output({"invitation": token, "email": data["email"]}).data, status=status.HTTP_201_CREATED)


class AdminSecurityEventListApi(APIView):
    """Read-only: the security log has no write endpoint."""

    permission_classes = [AdminOnly]

    @extend_schema_serializer(component_name="SecurityEvent")
    class Output(serializers.Serializer):
        id = serializers.IntegerField()
        timestamp = serializers.DateTimeField()
        userId = serializers.UUIDField(source="user_id", allow_null=True)
        email = serializers.CharField(source="user_email")
        action = serializers.ChoiceField(choices=SecurityEvent.Action.choices)
        resource = serializers.CharField()
        ip = serializers.IPAddressField(allow_null=True)
        userAgent = serializers.CharField(source="user_agent")
        success = serializers.BooleanField()
        metadata = serializers.DictField()

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "action", OpenApiTypes.STR, enum=SecurityEvent.Action.values, description="Only this action."
            )
        ],
        responses={200: Output(many=True), **errors(401, 403)},
    )
    def get(self, request):
        events = SecurityEvent.objects.all()
        if action := request.query_params.get("action"):
            events = events.filter(action=action)
        return Response(self.Output(events[:500], many=True).data)
