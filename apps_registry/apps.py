from django.apps import AppConfig


class AppsRegistryConfig(AppConfig):
    name = "apps_registry"
    verbose_name = "Apps, keys and tracking links"

    def ready(self):
        from auditlog.registry import auditlog

        from .models import (
            ApiKey,
            App,
            AppGroupObjectPermission,
            AppPlatform,
            AppUserObjectPermission,
            AttributionSettings,
            TrackingLink,
        )

        auditlog.register(App)
        auditlog.register(AppPlatform)
        auditlog.register(ApiKey, exclude_fields=["secret_hash", "last_used_at"])
        auditlog.register(AttributionSettings)
        auditlog.register(TrackingLink)
        auditlog.register(AppUserObjectPermission)
        auditlog.register(AppGroupObjectPermission)
