from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps_registry.costs import costs_import, csv_text
from core.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Import daily ad spend from a CSV with the columns app_id, date, source, campaign, currency, cost "
        "(+ optional adset, ad, impressions, clicks). Imported whole or not at all; re-importing replaces."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, **options):
        try:
            result = costs_import(data=csv_text(options["file"].read_bytes()))
        except OSError as error:
            raise CommandError(f"Cannot read {options['file']}: {error}") from error
        except ApplicationError as error:
            lines = error.extra.get("lines", [])
            details = "\n".join(f"  line {bad['line']}: {bad['errors']}" for bad in lines) or f"  {error.extra}"
            raise CommandError(f"{error.message}\n{details}") from error
        totals = ", ".join(f"{amount} {currency}" for currency, amount in sorted(result.total_cost.items()))
        self.stdout.write(self.style.SUCCESS(f"Imported {result.rows} row(s): {totals or 'no cost'}."))
