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
