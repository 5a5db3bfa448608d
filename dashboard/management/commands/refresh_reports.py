from django.conf import settings

from apps_registry.services import apps_chosen
from core.command_runs import ServerCommand
from core.periodic import run_until_signalled
from dashboard import attributed_daily


class Command(ServerCommand):
    help = (
        "Rewrite the attribution side's report pre-aggregate (installs and revenue per day, model and ad) "
        "of the apps that changed since their last refresh (--all: every app), or --follow to do so "
        "every REPORT_REFRESH_INTERVAL_SECONDS until SIGTERM."
    )

    def add_arguments(self, parser):
        parser.add_argument("--app", action="append", help="App id (repeatable). Default: every active app.")
        parser.add_argument("--all", action="store_true", help="Refresh even the apps that did not change.")
        parser.add_argument("--follow", action="store_true", help="Refresh continuously until SIGTERM.")

    def can_hand_over(self, options: dict) -> bool:
        return not options["follow"]

    def handle(self, *args, **options):
        apps = apps_chosen(options["app"])
        if options["follow"]:
            self.stdout.write(f"refreshing every {settings.REPORT_REFRESH_INTERVAL_SECONDS}s")
            run_until_signalled([attributed_daily.refresh_job(apps=apps)])
            self.stdout.write("stopped cleanly")
            return
        for app in apps:
            if options["all"] or attributed_daily.refresh_due(app):
                refresh = attributed_daily.refresh(app)
                self.stdout.write(f"{app.name}: refreshed (generation {refresh.generation})")
            else:
                self.stdout.write(f"{app.name}: unchanged since {app.report_refresh.started_at:%Y-%m-%d %H:%M:%S} UTC")
