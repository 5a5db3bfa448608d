"""DRF permission classes: the seed's ``requireRole`` (+ permission) as ``RoleRequired``.

Per-app access is not a permission class: views call ``accounts.rbac.selectors.app_access`` (the one
access function), which answers 404 for an app the user may not see.
"""

from rest_framework.permissions import BasePermission

from accounts import audit

from .authz import access_for


def RoleRequired(*allowed_roles: str, permission: str | None) -> type[BasePermission]:
    """Signed in, holding one of ``allowed_roles`` and the seed permission ``permission`` (None where
    the seed's matrix asks for a role only, the per-app grant doing the rest: /api/apps/{id}/*)."""

    class _RoleRequired(BasePermission):
        message = "You do not have permission to perform this action."

        def has_permission(self, request, view):
            user = request.user
            if not (user and user.is_authenticated):
                return False
            access = access_for(user)
            if access.has_role(*allowed_roles) and (permission is None or access.can(permission)):
                return True
            needs = f"role {'|'.join(allowed_roles)}" + (f" and {permission}" if permission else "")
            audit.permission_denied(request=request, resource=request.path, reason=f"needs {needs}")
            return False

    _RoleRequired.__name__ = f"RoleRequired({'|'.join(allowed_roles)}, {permission})"
    return _RoleRequired
