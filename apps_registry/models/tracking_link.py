import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from .app import App


class TrackingLink(models.Model):
    """A link put in an ad: ``/c/<code>`` records a click and redirects, ``/i/<code>`` an impression."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        ARCHIVED = "archived"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="links")
    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=200)
    media_source = models.CharField(max_length=100, help_text="Network or source, e.g. meta, google_ads.")
    campaign = models.CharField(max_length=200, blank=True)
    campaign_id = models.CharField(max_length=100, blank=True)
    adset = models.CharField(max_length=200, blank=True)
    adset_id = models.CharField(max_length=100, blank=True)
    ad = models.CharField(max_length=200, blank=True, help_text="Ad / creative.")
    ad_id = models.CharField(max_length=100, blank=True)
    site_id = models.CharField(max_length=200, blank=True)
    sub_params = models.JSONField(default=dict, blank=True)
    ios_url = models.URLField(blank=True, max_length=1000)
    android_url = models.URLField(blank=True, max_length=1000)
    web_url = models.URLField(blank=True, max_length=1000, help_text="Fallback for every other visitor.")
    deep_link = models.CharField(max_length=1000, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["app", "media_source", "campaign", "name"]

    def __str__(self):
        return f"{self.name} ({self.code})"
