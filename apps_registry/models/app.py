import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin).")


currency_code = RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO 4217 code, e.g. USD.")


class App(models.Model):
    """An app (or website) whose marketing is measured. Per-app access is granted on this object."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        ARCHIVED = "archived"

    class SigningPolicy(models.TextChoices):
        OFF = "off", "Off: signatures are not checked"
        OPTIONAL = "optional", "Optional: a signature, when sent, must be valid"
        REQUIRED = "required", "Required: unsigned requests are refused"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_apps")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    currency = models.CharField(max_length=3, default="USD", validators=[currency_code])
    signing_policy = models.CharField(max_length=16, choices=SigningPolicy.choices, default=SigningPolicy.OFF)
    signing_secret_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            ("view_analytics", "Can read this app's analytics"),
            ("manage_keys", "Can create, rotate and revoke this app's API keys"),
        ]

    def __str__(self):
        return self.name


class AppPlatform(models.Model):
    """Where the app lives on one platform: store ids for the stores, domains for the web."""

    class Platform(models.TextChoices):
        IOS = "ios"
        ANDROID = "android"
        WEB = "web"

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="platforms")
    platform = models.CharField(max_length=8, choices=Platform.choices)
    bundle_id = models.CharField(max_length=255, blank=True, help_text="iOS bundle id or Android package name.")
    store_id = models.CharField(max_length=255, blank=True, help_text="App Store id (e.g. id123456789).")
    store_url = models.URLField(blank=True)
    web_domains = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "platform"], name="one_entry_per_platform")]

    def __str__(self):
        return f"{self.app_id}:{self.platform}"


class AppUserObjectPermission(UserObjectPermissionBase):
    """A user's grant on one app (direct foreign key: typed, indexed, deleted with the app)."""

    content_object = models.ForeignKey(App, on_delete=models.CASCADE)


class AppGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(App, on_delete=models.CASCADE)
