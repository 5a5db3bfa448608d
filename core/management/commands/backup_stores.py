from django.core.management.base import CommandError

from core import clickhouse
from core.backups import BackupError, backup
from core.command_runs import ServerCommand


class Command(ServerCommand):
    help = (
        "Back up the OLTP database (SQLite online backup, or pg_dump) and then ClickHouse (BACKUP DATABASE) into a "
        "new directory under BACKUP_DIR; prints its path last."
    )

    def add_arguments(self, parser):
        parser.add_argument("--to", help="Directory for the backup (default: BACKUP_DIR).")

    def handle(self, *args, **options):
        try:
            target = backup(to=options["to"])
        except (BackupError, clickhouse.ClickHouseError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(str(target))
