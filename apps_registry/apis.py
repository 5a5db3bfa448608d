from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import roles
from accounts.permissions import RoleRequired

from . import services
from .models import App
from .selectors import app_access, apps_for_user


def app_out(app: App) -> dict:
    return {"id": str(app.id), "name": app.name, "status": app.status, "createdAt": app.created_at.isoformat()}


class AppListApi(APIView):
    permission_classes = [RoleRequired(roles.ADMIN, roles.USER, roles.READONLY, permission="apps:read")]

    def get(self, request):
        return Response([app_out(app) for app in apps_for_user(user=request.user)])


class AppCreateApi(APIView):
    permission_classes = [RoleRequired(roles.ADMIN, permission="apps:write")]

    class Input(serializers.Serializer):
        name = serializers.CharField(max_length=200)

    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        app = services.app_create(owner=request.user, name=data.validated_data["name"])
        return Response(app_out(app), status=status.HTTP_201_CREATED)


class AppDetailApi(APIView):
    """GET: anyone with view access to the app (readonly included); PATCH: user|admin with change access."""

    class Input(serializers.Serializer):
        name = serializers.CharField(max_length=200, required=False)

    def get_permissions(self):
        if self.request.method == "GET":
            return [RoleRequired(roles.ADMIN, roles.USER, roles.READONLY, permission="apps:read")()]
        return [RoleRequired(roles.ADMIN, roles.USER, permission="apps:read")()]

    def get(self, request, app_id):
        return Response(app_out(app_access(request=request, app_id=app_id)))

    def patch(self, request, app_id):
        app = app_access(request=request, app_id=app_id, permission="change_app")
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(app_out(services.app_update(app=app, **data.validated_data)))
