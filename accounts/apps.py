from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and access"

    def ready(self):
        from auditlog.registry import auditlog
        from django.contrib.auth.models import Group

        from apps_registry.models import (
            ApiKey,
            App,
            AppGroupObjectPermission,
            AppPlatform,
            AppUserObjectPermission,
            AttributionSettings,
            TrackingLink,
        )

        from . import signals  # noqa: F401 - connects the authorization and audit signal handlers
        from .models import User

        auditlog.register(User, exclude_fields=["password", "last_login"], m2m_fields={"groups", "user_permissions"})
        auditlog.register(Group, m2m_fields={"permissions"})
        auditlog.register(App)
        auditlog.register(AppPlatform)
        auditlog.register(ApiKey, exclude_fields=["secret_hash", "last_used_at"])
        auditlog.register(AttributionSettings)
        auditlog.register(TrackingLink)
        auditlog.register(AppUserObjectPermission)
        auditlog.register(AppGroupObjectPermission)
