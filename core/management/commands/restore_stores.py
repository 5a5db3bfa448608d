from django.core.management.base import CommandError

from core import clickhouse
from core.backups import BackupError, restore
from core.command_runs import ServerCommand


class Command(ServerCommand):
    help = (
        "Restore a backup made by backup_stores into EMPTY stores (the configured database and ClickHouse "
        "database), then check every table's rows against the backup's manifest."
    )

    def add_arguments(self, parser):
        parser.add_argument("backup", help="The backup's directory (a BACKUP_DIR/<time> path).")

    def handle(self, *args, **options):
        try:
            manifest = restore(source=options["backup"])
        except (BackupError, clickhouse.ClickHouseError, FileNotFoundError) as error:
            raise CommandError(str(error)) from error
        for store in ("oltp", "clickhouse"):
            rows = manifest[store]["rows"]
            self.stdout.write(f"{store}: {len(rows)} table(s), {sum(rows.values())} row(s), as in the backup")
        self.stdout.write(f"restored the backup of {manifest['created_at']}")
