import argparse
import datetime as dt

from django.conf import settings
from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from apps_registry.services import apps_chosen
from core.command_runs import ServerCommand
from core.periodic import run_until_signalled
from events.attribution_engine import services


def moment(text: str) -> dt.datetime:
    """An ISO date (midnight UTC) or datetime (UTC unless it has an offset)."""
    value = parse_datetime(text)
    if value is None:
        day = parse_date(text)
        if day is None:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not an ISO date or datetime (e.g. 2026-11-01 or 2026-11-01T12:00Z)."
            )
        value = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class Command(ServerCommand):
    help = (
        "Attribute conversions: --since [--until] for a window of conversion times, "
        "--recompute --from --to to redo history under the current settings, --follow to run continuously."
    )

    def add_arguments(self, parser):
        parser.add_argument("--app", action="append", help="App id (repeatable). Default: every active app.")
        parser.add_argument("--since", type=moment, help="Conversions at or after this time.")
        parser.add_argument("--until", type=moment, help="Conversions before this time (default: now).")
        parser.add_argument("--recompute", action="store_true", help="Recompute --from .. --to with current settings.")
        parser.add_argument("--from", dest="from_", type=moment, help="With --recompute: start of history.")
        parser.add_argument("--to", type=moment, help="With --recompute: end of history (default: now).")
        parser.add_argument("--follow", action="store_true", help="Attribute new conversions until SIGTERM.")

    def can_hand_over(self, options: dict) -> bool:
        return not options["follow"]

    def handle(self, *args, **options):
        apps = apps_chosen(options["app"])
        if options["follow"]:
            return self._follow(apps)
        if options["recompute"]:
            since, until = options["from_"], options["to"] or timezone.now()
            if since is None:
                raise CommandError("--recompute needs --from.")
        else:
            since, until = options["since"], options["until"] or timezone.now()
            if since is None:
                raise CommandError("Give --since (or --recompute --from, or --follow).")
        if until <= since:
            raise CommandError("The window is empty: its start must be before its end.")
        for app in apps:

            def progress(done: int, total: int, run, app=app) -> None:
                self.stdout.write(
                    f"{app.name}: period {done}/{total} ({run.window_start:%Y-%m-%d %H:%M} to "
                    f"{run.window_end:%Y-%m-%d %H:%M} UTC): {run.conversions} conversions"
                )

            runs = services.attribution_history(
                app=app, since=since, until=until, recompute=options["recompute"], progress=progress
            )
            flooding = sorted({source for run in runs for source in run.flooding_sources})
            self.stdout.write(
                f"{app.name}: {sum(run.conversions for run in runs)} conversions attributed in {len(runs)} "
                f"period(s) (settings v{runs[-1].settings_version}); flooding sources: {', '.join(flooding) or 'none'}"
            )

    def _follow(self, apps) -> None:
        self.stdout.write(f"attributing new conversions every {settings.ATTRIBUTION_INTERVAL_SECONDS}s")
        run_until_signalled([services.attribution_job(apps=apps)])
        self.stdout.write("stopped cleanly")
