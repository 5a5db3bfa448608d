"""Auth and admin APIs. Each view parses, authorizes, calls one service or selector, serializes."""

from django.shortcuts import get_object_or_404
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps_registry.models import App

from . import roles, services, tokens
from .authz import access_for
from .models import SecurityEvent, User
from .permissions import RoleRequired

AdminOnly = RoleRequired(roles.ADMIN, permission="admin:*")


def _profile(user: User) -> dict:
    return {"userId": str(user.pk), "email": user.email, "name": user.name, **access_for(user).claims()}


class PublicApi(APIView):
    """Endpoints that take credentials in the body (login, refresh, register): no prior authentication,
    and a credential failure answers 401 with a WWW-Authenticate challenge."""

    permission_classes = [AllowAny]
    authentication_classes = []

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'


class LoginApi(PublicApi):
    class Input(serializers.Serializer):
        email = serializers.CharField(max_length=254)
        password = serializers.CharField(max_length=4096, trim_whitespace=False)

    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(services.user_login(request=request, **data.validated_data))


class RegisterApi(PublicApi):
    class Input(serializers.Serializer):
        email = serializers.EmailField()
        password = serializers.CharField(max_length=4096, trim_whitespace=False)
        name = serializers.CharField(max_length=255, required=False, default="")
        invitation = serializers.CharField(max_length=200, required=False, default="")

    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(request=request, **data.validated_data)
        return Response(_profile(user), status=status.HTTP_201_CREATED)


class RefreshApi(PublicApi):
    class Input(serializers.Serializer):
        refresh = serializers.CharField(max_length=4096)

    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(tokens.rotate(data.validated_data["refresh"], request))


class LogoutApi(APIView):
    permission_classes = [IsAuthenticated]

    class Input(serializers.Serializer):
        refresh = serializers.CharField(max_length=4096)

    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        tokens.logout(data.validated_data["refresh"], request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response(_profile(request.user))


# --- /api/admin/* ---------------------------------------------------------------------------------


class AdminUserListApi(APIView):
    permission_classes = [AdminOnly]

    def get(self, request):
        users = User.objects.prefetch_related("groups").order_by("email")[:500]
        return Response(
            [
                {
                    "userId": str(u.pk),
                    "email": u.email,
                    "name": u.name,
                    "isActive": u.is_active,
                    "roles": sorted(g.name for g in u.groups.all() if g.name in roles.ROLES),
                }
                for u in users
            ]
        )


class AdminUserRolesApi(APIView):
    """POST {"role": "user"} grants a role; DELETE /roles/<role> revokes it."""

    permission_classes = [AdminOnly]

    class Input(serializers.Serializer):
        role = serializers.ChoiceField(choices=roles.ROLES)

    def post(self, request, user_id):
        user = get_object_or_404(User, pk=user_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        services.role_grant(user=user, role=data.validated_data["role"])
        return Response(_profile(user))

    def delete(self, request, user_id, role):
        user = get_object_or_404(User, pk=user_id)
        services.role_revoke(user=user, role=role)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AdminUserAppAccessApi(APIView):
    """PUT {"permissions": ["view_app", "view_analytics"]} grants; DELETE revokes (all, or ?permission=)."""

    permission_classes = [AdminOnly]

    class Input(serializers.Serializer):
        permissions = serializers.ListField(child=serializers.ChoiceField(choices=list(roles.APP_PERMISSIONS)))

    def put(self, request, user_id, app_id):
        user = get_object_or_404(User, pk=user_id)
        app = get_object_or_404(App, pk=app_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        services.app_access_grant(user=user, app=app, permissions=data.validated_data["permissions"])
        return Response(_profile(user))

    def delete(self, request, user_id, app_id):
        user = get_object_or_404(User, pk=user_id)
        app = get_object_or_404(App, pk=app_id)
        services.app_access_revoke(user=user, app=app, permissions=request.query_params.getlist("permission"))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AdminUserUnlockApi(APIView):
    permission_classes = [AdminOnly]

    def post(self, request, user_id):
        services.login_unlock(user=get_object_or_404(User, pk=user_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AdminInvitationApi(APIView):
    permission_classes = [AdminOnly]

    class Input(serializers.Serializer):
        email = serializers.EmailField()
        role = serializers.ChoiceField(choices=roles.ROLES)

    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        token = services.invitation_create(actor=request.user, **data.validated_data)
        return Response({"invitation": token, "email": data.validated_data["email"]}, status=status.HTTP_201_CREATED)


class AdminSecurityEventListApi(APIView):
    """Read-only: the security log has no write endpoint."""

    permission_classes = [AdminOnly]

    def get(self, request):
        events = SecurityEvent.objects.all()
        if action := request.query_params.get("action"):
            events = events.filter(action=action)
        return Response(
            [
                {
                    "id": e.id,
                    "timestamp": e.timestamp.isoformat(),
                    "userId": str(e.user_id) if e.user_id else None,
                    "email": e.user_email,
                    "action": e.action,
                    "resource": e.resource,
                    "ip": e.ip,
                    "userAgent": e.user_agent,
                    "success": e.success,
                    "metadata": e.metadata,
                }
                for e in events[:500]
            ]
        )
