from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from .app import App


def _range(low: int, high: int) -> list:
    return [MinValueValidator(low), MaxValueValidator(high)]


class AttributionSettings(models.Model):
    """One version of an app's attribution rules. Versions are never changed: an edit adds a version,
    so a report can name exactly the rules that produced it."""

    class Model(models.TextChoices):
        LAST_TOUCH = "last_touch", "Last touch"
        FIRST_TOUCH = "first_touch", "First touch"
        LINEAR = "linear", "Linear"
        TIME_DECAY = "time_decay", "Time decay"
        POSITION_BASED = "position_based", "Position based (40/20/40)"
        DATA_DRIVEN = "data_driven", "Data-driven (Markov)"

    class FraudPolicy(models.TextChoices):
        FLAG = "flag", "Flag: keep the install attributed"
        REJECT = "reject", "Reject: credit the next touch"

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="attribution_settings")
    version = models.PositiveIntegerField()
    click_lookback_hours = models.PositiveIntegerField(default=7 * 24, validators=_range(1, 30 * 24))
    view_through_hours = models.PositiveIntegerField(default=24, validators=_range(1, 7 * 24))
    probabilistic_enabled = models.BooleanField(default=False)
    probabilistic_window_hours = models.PositiveIntegerField(default=24, validators=_range(1, 7 * 24))
    # An event without a device id is the device of its user id (one user on several devices becomes one).
    user_id_fallback = models.BooleanField(default=False)
    reattribution_window_days = models.PositiveIntegerField(default=90, validators=_range(1, 365))
    reengagement_inactivity_days = models.PositiveIntegerField(default=7, validators=_range(1, 365))
    # After a re-engagement or a re-attribution, the device's in-app revenue is the retargeting source's.
    reengagement_window_days = models.PositiveIntegerField(default=30, validators=_range(1, 365))
    default_model = models.CharField(max_length=16, choices=Model.choices, default=Model.LAST_TOUCH)
    time_decay_half_life_days = models.PositiveIntegerField(default=7, validators=_range(1, 30))
    fraud_min_ctit_seconds = models.PositiveIntegerField(default=10, validators=_range(0, 3600))
    fraud_policy = models.CharField(max_length=8, choices=FraudPolicy.choices, default=FraudPolicy.FLAG)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)

    RULE_FIELDS = (
        "click_lookback_hours",
        "view_through_hours",
        "probabilistic_enabled",
        "probabilistic_window_hours",
        "user_id_fallback",
        "reattribution_window_days",
        "reengagement_inactivity_days",
        "reengagement_window_days",
        "default_model",
        "time_decay_half_life_days",
        "fraud_min_ctit_seconds",
        "fraud_policy",
    )

    class Meta:
        ordering = ["app", "-version"]
        constraints = [models.UniqueConstraint(fields=["app", "version"], name="one_row_per_settings_version")]

    def __str__(self):
        return f"{self.app_id} v{self.version}"

    def rules(self) -> dict:
        return {name: getattr(self, name) for name in self.RULE_FIELDS}
