import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from .app import App


class ApiKey(models.Model):
    """An SDK key of one app. Only a SHA-256 hash of the secret is kept; ``prefix`` identifies the key
    in lists and logs (``ump_<prefix>_<secret>``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Set when the key is rotated out.")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.visible_start}…"

    @property
    def visible_start(self) -> str:
        """The part of the key that identifies it in lists and logs."""
        return f"ump_{self.prefix}_"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
