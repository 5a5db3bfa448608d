from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from .models import App


@admin.register(App)
class AppAdmin(GuardedModelAdmin):
    """Per-app access is granted on the "Object permissions" screen of each app (django-guardian)."""

    list_display = ("name", "status", "owner", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "id", "owner__email")
    readonly_fields = ("id", "created_at")
