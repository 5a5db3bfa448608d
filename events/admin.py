from django.contrib import admin

from core.admin import ReadOnlyAdmin

from .models import AttributionRun


@admin.register(AttributionRun)
class AttributionRunAdmin(ReadOnlyAdmin):
    """What the attribution engine ran: windows, settings versions, flooding sources, model weights."""

    list_display = ("app", "mode", "window_start", "window_end", "settings_version", "conversions", "finished_at")
    list_filter = ("mode",)
    search_fields = ("app__name",)
    date_hierarchy = "window_end"
