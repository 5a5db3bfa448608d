import re
import uuid
from functools import cached_property
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from .app import App

# Filled in by the network when it serves the ad: {click_id} etc. are the network's macros.
CLICK_MACROS = {
    "click_id": "{click_id}",
    "site_id": "{site_id}",
    "idfa": "{idfa}",
    "gaid": "{gaid}",
    "ip": "{ip}",
    "ua": "{user_agent}",
}
# sub_params are copied onto every click and impression of the link (the touchpoints' sub_params map).
SUB_PARAMS_MAX_ENTRIES = 20
SUB_PARAM_KEY_PATTERN = r"^[A-Za-z0-9_]{1,64}$"
SUB_PARAM_VALUE_MAX_LENGTH = 256
_SUB_PARAM_KEY = re.compile(SUB_PARAM_KEY_PATTERN)


def validate_sub_params(value) -> None:
    """An object of at most SUB_PARAMS_MAX_ENTRIES text values under short word keys."""
    if not isinstance(value, dict):
        raise ValidationError('Must be an object of text values, e.g. {"sub1": "creator_42"}.')
    if len(value) > SUB_PARAMS_MAX_ENTRIES:
        raise ValidationError(f"At most {SUB_PARAMS_MAX_ENTRIES} entries.")
    problems = []
    for key, item in value.items():
        if not isinstance(key, str) or not _SUB_PARAM_KEY.match(key):
            problems.append(f"Key {str(key)[:64]!r}: 1 to 64 letters, digits or _.")
        elif not isinstance(item, str) or len(item) > SUB_PARAM_VALUE_MAX_LENGTH:
            problems.append(f"{key}: must be text of at most {SUB_PARAM_VALUE_MAX_LENGTH} characters.")
    if problems:
        raise ValidationError(problems)


def validate_destination(value: str) -> None:
    """Where a click sends the visitor: an http(s) URL without user info. "https://shop.example@evil.example/"
    reads as the shop to a person and goes to evil.example; other schemes (ftp:, javascript:) are no
    store or web page."""
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValidationError("Enter a valid URL.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError("Only http:// and https:// destinations are allowed.")
    if "@" in parts.netloc:
        raise ValidationError("A destination may not carry user info (user@ before the host).")


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
    sub_params = models.JSONField(default=dict, blank=True, validators=[validate_sub_params])
    ios_url = models.URLField(blank=True, max_length=1000, validators=[validate_destination])
    android_url = models.URLField(blank=True, max_length=1000, validators=[validate_destination])
    web_url = models.URLField(
        blank=True, max_length=1000, validators=[validate_destination], help_text="Fallback for every other visitor."
    )
    deep_link = models.CharField(max_length=1000, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["app", "media_source", "campaign", "name"]

    def __str__(self):
        return f"{self.name} ({self.code})"

    @property
    def click_url(self) -> str:
        return f"{settings.PUBLIC_BASE_URL}/c/{self.code}"

    @property
    def impression_url(self) -> str:
        return f"{settings.PUBLIC_BASE_URL}/i/{self.code}"

    @property
    def click_url_with_macros(self) -> str:
        """The click URL with the query parameters a network fills in when it serves the ad."""
        return f"{self.click_url}?{urlencode(CLICK_MACROS, safe='{}')}"

    @property
    def impression_url_with_macros(self) -> str:
        return f"{self.impression_url}?{urlencode(CLICK_MACROS, safe='{}')}"

    @cached_property
    def touch_sub_params(self) -> dict[str, str] | None:
        """The sub_params every touch of this link carries, or None when the stored value is not valid
        (written around the validation, e.g. straight into the database). Checked once per loaded
        link: the click endpoint keeps a link in memory for many clicks."""
        try:
            validate_sub_params(self.sub_params)
        except ValidationError:
            return None
        return self.sub_params
