"""Money in one currency: rates imported from CSV, amounts converted at their day's rate, and an
amount without a rate kept apart, never added in."""

import datetime as dt
import decimal

import pytest
from django.core.management import CommandError, call_command

from dashboard.currency import money_totals
from dashboard.models import ExchangeRate

pytestmark = pytest.mark.django_db

RATES = "date,currency,per_usd\n2026-03-01,USD,1\n2026-03-01,EUR,0.8\n2026-03-01,GBP,0.5\n2026-03-05,EUR,0.5\n"
D = decimal.Decimal


def money_total(*, target: str, amounts: list[tuple]):
    """The Money of (day, currency, amount) rows, all under one key."""
    return money_totals(target=target, amounts=[((), *row) for row in amounts])[()]


def import_rates(tmp_path, text: str) -> str:
    path = tmp_path / "rates.csv"
    path.write_text(text)
    call_command("import_exchange_rates", str(path))
    return str(path)


def test_the_demo_rates_import_and_say_their_dates():
    call_command("import_exchange_rates")
    assert ExchangeRate.objects.count() == 22
    assert sorted({str(day) for day in ExchangeRate.objects.values_list("date", flat=True)}) == [
        "2026-01-01",
        "2026-07-01",
    ]


def test_a_bad_line_imports_nothing_and_is_named(tmp_path):
    path = tmp_path / "rates.csv"
    path.write_text("date,currency,per_usd\n2026-03-01,EUR,0.8\n2026-13-01,eur,-1\n")
    with pytest.raises(CommandError) as error:
        call_command("import_exchange_rates", str(path))
    assert "line 3" in str(error.value)
    assert "'per_usd': 'expected a positive number'" in str(error.value)
    assert ExchangeRate.objects.count() == 0


def test_amounts_convert_at_their_days_rate_and_those_without_one_stay_apart(tmp_path):
    import_rates(tmp_path, RATES)
    amounts = [
        (dt.date(2026, 3, 2), "EUR", D("40")),  # 40 / 0.8 = 50 USD
        (dt.date(2026, 3, 6), "EUR", D("40")),  # the 5 March rate: 40 / 0.5 = 80 USD
        (dt.date(2026, 3, 2), "USD", D("10")),
        (dt.date(2026, 2, 28), "EUR", D("8")),  # before the first EUR rate
        (dt.date(2026, 3, 2), "SEK", D("7")),  # no SEK rate at all
    ]
    usd = money_total(target="USD", amounts=amounts)
    assert usd.as_dict() == {
        "currency": "USD",
        "amount": "140.0000",
        "unconverted": [{"currency": "EUR", "amount": "8.0000"}, {"currency": "SEK", "amount": "7.0000"}],
    }
    # Through the dollar: 40 EUR on 2 March = 50 USD = 25 GBP; 40 EUR on 6 March = 80 USD = 40 GBP.
    gbp = money_total(target="GBP", amounts=amounts[:3])
    assert gbp.total == D("70") and gbp.unconverted == {}


def test_the_dollar_needs_no_rate_and_cannot_be_given_another(tmp_path):
    import_rates(tmp_path, "date,currency,per_usd\n2026-03-01,EUR,0.8\n")
    assert money_total(target="EUR", amounts=[(dt.date(2026, 3, 2), "USD", D("10"))]).total == D("8")
    with pytest.raises(CommandError, match="USD is the base"):
        import_rates(tmp_path, "date,currency,per_usd\n2026-03-01,USD,1.1\n")


def test_importing_a_date_again_replaces_its_rate(tmp_path):
    import_rates(tmp_path, RATES)
    import_rates(tmp_path, "date,currency,per_usd\n2026-03-01,EUR,0.4\n")
    assert ExchangeRate.objects.count() == 4
    assert money_total(target="USD", amounts=[(dt.date(2026, 3, 1), "EUR", D("2"))]).total == D("5")
