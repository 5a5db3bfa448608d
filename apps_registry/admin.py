from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from core.admin import ReadOnlyAdmin

from . import keys
from .models import AdSpend, ApiKey, App, AppPlatform, AttributionSettings, TrackingLink


class PlatformInline(admin.TabularInline):
    model = AppPlatform
    extra = 0


@admin.register(App)
class AppAdmin(GuardedModelAdmin):
    """Per-app access is granted on the "Object permissions" screen of each app (django-guardian).
    Apps are archived, never deleted."""

    list_display = ("name", "status", "timezone", "currency", "signing_policy", "owner", "created_at")
    list_filter = ("status", "signing_policy", "platforms__platform")
    search_fields = ("name", "id", "owner__email", "platforms__bundle_id", "platforms__store_id")
    readonly_fields = ("id", "created_at", "signing_secret_version")
    inlines = [PlatformInline]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.action(description="Revoke the selected keys")
def revoke_keys(modeladmin, request, queryset):
    for key in queryset.filter(revoked_at__isnull=True):
        keys.api_key_revoke(key=key)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created through the API or `manage.py create_app`/`rotate_api_key`, which show them
    once; here only the prefix is ever visible."""

    list_display = ("__str__", "app", "name", "created_at", "last_used_at", "expires_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "name", "app__name")
    fields = ("app", "name", "prefix", "created_by", "created_at", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = fields
    actions = [revoke_keys]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AttributionSettings)
class AttributionSettingsAdmin(ReadOnlyAdmin):
    """History of every app's attribution rules (read-only: changes are new versions via the API)."""

    list_display = (
        "app",
        "version",
        "default_model",
        "click_lookback_hours",
        "view_through_hours",
        "changed_by",
        "changed_at",
    )
    list_filter = ("default_model", "fraud_policy")
    search_fields = ("app__name",)


@admin.register(TrackingLink)
class TrackingLinkAdmin(admin.ModelAdmin):
    list_display = ("name", "app", "code", "media_source", "campaign", "adset", "ad", "status")
    list_filter = ("status", "media_source")
    search_fields = ("name", "code", "campaign", "app__name")
    readonly_fields = ("code", "created_by", "created_at", "updated_at")

    def has_add_permission(self, request):
        return False  # links get their code from the API (apps_registry.links.link_create)


@admin.register(AdSpend)
class AdSpendAdmin(admin.ModelAdmin):
    list_display = ("date", "app", "source", "campaign", "adset", "ad", "cost", "currency")
    list_filter = ("source", "currency")
    date_hierarchy = "date"
    search_fields = ("campaign", "app__name")
