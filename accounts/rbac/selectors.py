"""Which apps a user may see. ``app_access`` is the only answer to "may this user see this app?"."""

import uuid

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound

from accounts import audit

from .authz import access_for, granted_model


def apps_for_user(*, user, permission: str = "view_app") -> QuerySet:
    access = access_for(user)
    apps = granted_model().objects.all()
    if access.is_admin:
        return apps
    allowed = [app_id for app_id, codes in access.app_grants.items() if permission in codes]
    return apps.filter(id__in=allowed)


def app_access(*, request, app_id, permission: str = "view_app"):
    """The app, if the signed-in user holds ``permission`` on it; otherwise 404 (never 403, so the
    existence of other tenants' apps is not revealed)."""
    try:
        app_uuid = uuid.UUID(str(app_id))
    except ValueError:
        raise NotFound("App not found.") from None
    if access_for(request.user).can_on_app(app_uuid, permission):
        app = granted_model().objects.filter(id=app_uuid).first()
        if app is None:
            raise NotFound("App not found.")
        return app
    audit.permission_denied(request=request, resource=f"app:{app_uuid}", reason=f"no {permission} on app")
    raise NotFound("App not found.")
