from django.core.management.base import CommandError

from core.clickhouse import ClickHouseError
from core.clickhouse.migrator import MigrationError, apply, plan, statements
from core.command_runs import ServerCommand


class Command(ServerCommand):
    help = "Apply pending ClickHouse schema migrations (core/clickhouse/migrations)."

    def add_arguments(self, parser):
        parser.add_argument("--plan", action="store_true", help="List pending migrations; apply nothing.")
        parser.add_argument("--check", action="store_true", help="Exit 1 if any migration is pending.")
        parser.add_argument("--sql", action="store_true", help="With --plan: print each statement as it would run.")

    def handle(self, *args, **options):
        try:
            pending = plan()
        except (MigrationError, ClickHouseError) as error:
            raise CommandError(str(error)) from error
        if options["plan"] or options["check"]:
            for migration in pending:
                self.stdout.write(f"pending {migration.label}")
                if options["sql"]:
                    for statement in statements(migration):
                        self.stdout.write(f"{statement.strip()};\n")
            if not pending:
                self.stdout.write("ClickHouse schema is up to date.")
            if options["check"] and pending:
                raise CommandError(f"{len(pending)} ClickHouse migration(s) pending.")
            return
        for migration in pending:
            self.stdout.write(f"applying {migration.label} ...", ending="")
            try:
                apply(migration)
            except ClickHouseError as error:
                raise CommandError(f"{migration.label} failed: {error}") from error
            self.stdout.write(self.style.SUCCESS(" ok"))
        if not pending:
            self.stdout.write("ClickHouse schema is up to date.")
