from django.core.management.base import BaseCommand

from dashboard.aggregates import HOURLY, rebuild


class Command(BaseCommand):
    help = (
        f"Rebuild the reports' hourly pre-aggregates ({', '.join(h.table for h in HOURLY)}) from the raw "
        "events and touchpoints, month by month: every month, or with --check only the months whose hours differ "
        "from the raw table. Stop the consumers while it runs: rows stored meanwhile may be counted twice or not "
        "at all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Rebuild only the months that differ.")

    def handle(self, *args, **options):
        rebuilt = rebuild(
            check=options["check"], progress=lambda table, month: self.stdout.write(f"{table} {month} rebuilt")
        )
        origins = {hourly.table: hourly.origin for hourly in HOURLY}
        for table, months in rebuilt.items():
            self.stdout.write(
                self.style.SUCCESS(f"Rebuilt {len(months)} month(s) of {table}.")
                if months
                else f"{table} matches the {origins[table]}: nothing to rebuild."
            )
