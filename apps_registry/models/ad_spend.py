from django.db import models
from django.utils import timezone

from .app import App


class AdSpend(models.Model):
    """Daily cost of one app x source x campaign x ad set x ad. Re-importing a day replaces it."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="ad_spend")
    date = models.DateField()
    source = models.CharField(max_length=100)
    campaign = models.CharField(max_length=200)
    adset = models.CharField(max_length=200, blank=True, default="")
    ad = models.CharField(max_length=200, blank=True, default="")
    currency = models.CharField(max_length=3)
    cost = models.DecimalField(max_digits=18, decimal_places=6)
    impressions = models.PositiveBigIntegerField(null=True, blank=True)
    clicks = models.PositiveBigIntegerField(null=True, blank=True)
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["app", "date", "source", "campaign"]
        constraints = [
            models.UniqueConstraint(
                fields=["app", "date", "source", "campaign", "adset", "ad"], name="one_cost_row_per_day_and_ad"
            )
        ]

    def __str__(self):
        return f"{self.date} {self.source}/{self.campaign}: {self.cost} {self.currency}"
