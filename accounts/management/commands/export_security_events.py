import time

from django.core.management.base import BaseCommand

from accounts.exports import security_events_export


class Command(BaseCommand):
    help = "Copy new security events from the database into ClickHouse (once, or --follow)."

    def add_arguments(self, parser):
        parser.add_argument("--follow", action="store_true", help="Keep exporting every --interval seconds.")
        parser.add_argument("--interval", type=float, default=5.0)

    def handle(self, *args, **options):
        while True:
            count = security_events_export()
            self.stdout.write(f"exported {count} security event(s)")
            if not options["follow"]:
                return
            time.sleep(options["interval"])
