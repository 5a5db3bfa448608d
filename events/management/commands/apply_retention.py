from django.conf import settings

from core.command_runs import ServerCommand
from core.periodic import run_until_signalled
from events.retention import retention_apply, retention_job, retention_plan


class Command(ServerCommand):
    help = (
        "Remove what is past its data class's retention (RETENTION_*_DAYS): a dry run by default, which lists "
        "what would go; --apply removes it; --follow applies it daily until SIGTERM."
    )

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="Remove it (default: only list it).")
        parser.add_argument("--follow", action="store_true", help="With --apply: once a day until SIGTERM.")

    def can_hand_over(self, options: dict) -> bool:
        return not options["follow"]

    def handle(self, *args, **options):
        if options["follow"]:
            run_until_signalled([retention_job()])
            return
        plan = retention_plan()
        verb = "removed" if options["apply"] else "would remove"
        for expired in plan:
            days = settings.RETENTION_DAYS[expired.data_class]
            line = f"{expired.store} ({expired.data_class}, {days} days, before {expired.cutoff:%Y-%m-%d %H:%M} UTC): "
            if not expired.rows:
                self.stdout.write(line + "nothing past retention")
                continue
            parts = [f"partition {p} whole ({rows} rows)" for p, rows in expired.partitions.items()]
            parts += [
                f"{rows} rows of {'the log' if p == 'all' else 'partition ' + p}"
                for p, rows in expired.boundary.items()
            ]
            self.stdout.write(line + f"{verb} " + ", ".join(parts))
        if options["apply"]:
            self.stdout.write(f"removed {retention_apply(plan)} row(s) past retention")
        else:
            self.stdout.write(f"dry run: {sum(e.rows for e in plan)} row(s) past retention; --apply removes them")
