from accounts.exports import security_events_export, security_events_job
from core.command_runs import ServerCommand
from core.periodic import run_until_signalled


class Command(ServerCommand):
    help = "Copy new security events from the database into ClickHouse (once, or --follow until SIGTERM)."

    def add_arguments(self, parser):
        parser.add_argument("--follow", action="store_true", help="Keep exporting every --interval seconds.")
        parser.add_argument("--interval", type=float, default=5.0)

    def can_hand_over(self, options: dict) -> bool:
        return not options["follow"]

    def handle(self, *args, **options):
        if options["follow"]:
            run_until_signalled([security_events_job(interval_seconds=options["interval"])])
            self.stdout.write("stopped cleanly")
            return
        self.stdout.write(f"exported {security_events_export()} security event(s)")
