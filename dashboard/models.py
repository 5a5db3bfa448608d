from django.core.validators import MinValueValidator, RegexValidator
from django.db import models


class ExchangeRate(models.Model):
    """How many units of ``currency`` one US dollar bought on ``date``. Money in any two currencies
    converts through the dollar: amount * per_usd[target] / per_usd[source]. Imported from CSV
    (``manage.py import_exchange_rates``); re-importing a date replaces its rate."""

    date = models.DateField()
    currency = models.CharField(max_length=3, validators=[RegexValidator(r"^[A-Z]{3}$")])
    per_usd = models.DecimalField(max_digits=24, decimal_places=10, validators=[MinValueValidator(0)])

    class Meta:
        ordering = ["currency", "date"]
        constraints = [models.UniqueConstraint(fields=["currency", "date"], name="one_rate_per_currency_and_day")]

    def __str__(self):
        return f"{self.date} 1 USD = {self.per_usd} {self.currency}"


class ReportRefresh(models.Model):
    """An app's refresh of the attribution side's pre-aggregate (``dashboard/attributed_daily.py``): the
    generation of rows readers use, when its refresh started (its rows hold what was stored then), the
    time zone its days are in and the layout of its rows (``attributed_daily.LAYOUT``: readers skip a
    generation written before the tables they read had what they need)."""

    app = models.OneToOneField("apps_registry.App", on_delete=models.CASCADE, related_name="report_refresh")
    generation = models.PositiveBigIntegerField()
    started_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64)
    layout = models.PositiveSmallIntegerField(default=0)

    def __str__(self):
        return f"{self.app_id}: generation {self.generation} from {self.started_at:%Y-%m-%d %H:%M:%S} UTC"
