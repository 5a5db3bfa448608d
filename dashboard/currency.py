"""Money in one currency. A report sums its amounts per day and currency (in ClickHouse or the OLTP
database: a handful of rows) and hands them here; each converts at its day's rate, the latest rate
on or before that day (markets close on weekends). An amount whose currency has no such rate is never
added in: it comes back beside the total, per currency, as unconverted.

Rates come from CSV (``rates_import``, ``manage.py import_exchange_rates``): all lines are checked
first, any bad line imports nothing, and a (currency, date) imported again replaces its rate.
"""

import bisect
import csv
import datetime as dt
import decimal
import io
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction

from core.errors import ApplicationError

from .models import ExchangeRate

COLUMNS = ("date", "currency", "per_usd")
BASE = "USD"  # every rate is units per US dollar; the dollar needs no row
_CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_LINES = 100_000
CENTS_OF_CENTS = decimal.Decimal("0.0001")  # amounts are shown to four decimals


def rates_import(*, data: str) -> int:
    """Import rates from CSV text with the header date,currency,per_usd; returns the rows imported.
    Raises ApplicationError listing every bad line, and imports nothing then."""
    reader = csv.DictReader(io.StringIO(data))
    if reader.fieldnames is None or set(COLUMNS) - set(reader.fieldnames):
        raise ApplicationError(f"The header must name the columns {', '.join(COLUMNS)}.")
    rates, bad = {}, []
    try:
        for values in reader:
            if reader.line_num > MAX_LINES + 1:
                raise ApplicationError(f"More than {MAX_LINES} lines; split the file.")
            errors = {}
            try:
                date = dt.date.fromisoformat((values["date"] or "").strip())
            except ValueError:
                errors["date"] = "expected YYYY-MM-DD"
            currency = (values["currency"] or "").strip()
            if not _CURRENCY.match(currency):
                errors["currency"] = "expected a three-letter ISO 4217 code"
            try:
                per_usd = decimal.Decimal((values["per_usd"] or "").strip())
                if not per_usd.is_finite() or per_usd <= 0 or per_usd >= 10**12:
                    raise decimal.InvalidOperation
            except decimal.InvalidOperation:
                errors["per_usd"] = "expected a positive number"
            else:
                if currency == BASE and per_usd != 1:
                    errors["per_usd"] = f"{BASE} is the base: one {BASE} is 1 {BASE}"
            if errors:
                bad.append({"line": reader.line_num, "errors": errors})
            else:
                rates[(currency, date)] = ExchangeRate(date=date, currency=currency, per_usd=per_usd)
    except csv.Error as error:
        bad.append({"line": reader.reader.line_num, "errors": {"line": str(error)}})
    if bad:
        raise ApplicationError("Some lines are not valid; nothing was imported.", extra={"lines": bad})
    with transaction.atomic():
        ExchangeRate.objects.bulk_create(
            list(rates.values()),
            update_conflicts=True,
            unique_fields=["currency", "date"],
            update_fields=["per_usd"],
            batch_size=2000,
        )
    return len(rates)


@dataclass
class Money:
    """A converted total in ``currency`` and, per currency, what had no rate to convert it."""

    currency: str
    total: decimal.Decimal = decimal.Decimal(0)
    unconverted: dict[str, decimal.Decimal] = field(default_factory=dict)

    def add(self, other: "Money") -> None:
        """Add ``other`` (in the same currency) in: its total to the total, its unconverted parts to ours."""
        self.total += other.total
        for currency, amount in other.unconverted.items():
            self.unconverted[currency] = self.unconverted.get(currency, decimal.Decimal(0)) + amount

    def as_dict(self) -> dict:
        return {
            "currency": self.currency,
            "amount": str(self.total.quantize(CENTS_OF_CENTS)),
            "unconverted": [
                {"currency": currency, "amount": str(amount.quantize(CENTS_OF_CENTS))}
                for currency, amount in sorted(self.unconverted.items())
            ],
        }


class Converter:
    """Converts amounts dated by day into ``target``, reading the rates of the currencies it is
    given once (one query)."""

    def __init__(self, *, target: str, currencies: Iterable[str], until: dt.date):
        self.target = target
        wanted = set(currencies) | {target}
        self._rates: dict[str, tuple[list[dt.date], list[decimal.Decimal]]] = defaultdict(lambda: ([], []))
        for rate in ExchangeRate.objects.filter(currency__in=wanted, date__lte=until).order_by("currency", "date"):
            dates, values = self._rates[rate.currency]
            dates.append(rate.date)
            values.append(rate.per_usd)

    def _per_usd(self, currency: str, day: dt.date) -> decimal.Decimal | None:
        if currency == BASE:
            return decimal.Decimal(1)
        dates, values = self._rates.get(currency, ([], []))
        position = bisect.bisect_right(dates, day)
        return values[position - 1] if position else None

    def convert(self, *, day: dt.date, currency: str, amount: decimal.Decimal) -> decimal.Decimal | None:
        """The amount in the target currency, or None when either side has no rate on or before ``day``."""
        if currency == self.target:
            return amount
        source, target = self._per_usd(currency, day), self._per_usd(self.target, day)
        if source is None or target is None:
            return None
        return amount * target / source


def conversion_day(*, day: str, currency: str) -> str:
    """SQL of the day an amount is converted at: none (day 0) for the reporting currency
    (``{reporting_currency:String}``), which needs no rate, so that its amounts sum in one row."""
    return f"if({currency} = {{reporting_currency:String}}, toDate(0), {day})"


def money_totals(*, target: str, amounts: Iterable[tuple]) -> dict:
    """The sums of (key, day, currency, amount) rows in ``target``, one Money per key, the amounts
    without a rate apart."""
    rows = list(amounts)
    if not rows:
        return {}
    converter = Converter(target=target, currencies={row[2] for row in rows}, until=max(row[1] for row in rows))
    totals: dict = {}
    for key, day, currency, amount in rows:
        money = totals.setdefault(key, Money(currency=target))
        amount = decimal.Decimal(amount)
        converted = converter.convert(day=day, currency=currency, amount=amount)
        if converted is None:
            money.unconverted[currency] = money.unconverted.get(currency, decimal.Decimal(0)) + amount
        else:
            money.total += converted
    return totals
