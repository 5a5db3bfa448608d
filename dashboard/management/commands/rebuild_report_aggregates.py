from django.core.management.base import BaseCommand

from dashboard.aggregates import rebuild_activity


class Command(BaseCommand):
    help = (
        "Rebuild the reports' pre-aggregates (events_activity) from the raw events, month by month: every "
        "month, or with --check only the months whose hourly counts differ from the raw table. Stop the "
        "consumers while it runs: events stored meanwhile may be counted twice or not at all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Rebuild only the months that differ.")

    def handle(self, *args, **options):
        rebuilt = rebuild_activity(
            check=options["check"], progress=lambda month: self.stdout.write(f"events_activity {month} rebuilt")
        )
        self.stdout.write(
            self.style.SUCCESS(f"Rebuilt {len(rebuilt)} month(s) of events_activity.")
            if rebuilt
            else "events_activity matches the events: nothing to rebuild."
        )
