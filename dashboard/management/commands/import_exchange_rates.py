from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError
from dashboard.currency import rates_import

DEMO = Path(__file__).resolve().parents[2] / "data" / "exchange_rates_demo.csv"


class Command(BaseCommand):
    help = (
        "Import exchange rates from a CSV with the columns date, currency, per_usd (units of the currency "
        "one US dollar buys that day). Imported whole or not at all; re-importing a date replaces its rate. "
        f"Without a file, imports the demo rates shipped in {DEMO.name} (approximate, not market data)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, nargs="?", default=DEMO)

    def handle(self, *args, **options):
        try:
            data = options["file"].read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {options['file']} as UTF-8 text: {error}") from error
        try:
            imported = rates_import(data=data)
        except ApplicationError as error:
            lines = error.extra.get("lines", [])
            details = "\n".join(f"  line {bad['line']}: {bad['errors']}" for bad in lines)
            raise CommandError(f"{error.message}\n{details}".rstrip()) from error
        self.stdout.write(self.style.SUCCESS(f"Imported {imported} rate(s)."))
