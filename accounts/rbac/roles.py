"""Roles and the seed's permission names, mapped onto Django groups and permissions.

Roles are Django groups. The seed's permission names (``apps:read``...) are Django permissions on
``accounts.Capability``; per-app access is a django-guardian object permission on ``App``.
"""

ADMIN = "admin"
USER = "user"
READONLY = "readonly"
ROLES = (ADMIN, USER, READONLY)

# seed name -> Django permission codename (app label "accounts")
PERMISSIONS = {
    "apps:read": "apps_read",
    "apps:write": "apps_write",
    "analytics:read": "analytics_read",
    "analytics:write": "analytics_write",
    "dashboard:read": "dashboard_read",
    "admin:*": "admin_all",
}
CODENAME_TO_SEED = {codename: seed for seed, codename in PERMISSIONS.items()}

ROLE_PERMISSIONS = {
    ADMIN: tuple(PERMISSIONS),
    USER: ("apps:read", "analytics:read", "analytics:write", "dashboard:read"),
    READONLY: ("apps:read",),
}

# Per-app grants (guardian codenames on apps_registry.App) and what each lets a user do.
APP_PERMISSIONS = {
    "view_app": "see the app and its settings",
    "change_app": "change the app and its settings",
    "view_analytics": "read the app's analytics and dashboards",
    "manage_keys": "create, rotate and revoke the app's API keys",
}
