from core.command_runs import ServerCommand
from events.bus.topics import TABLES
from events.consumer import dead_letters


class Command(ServerCommand):
    help = (
        "Send dead-lettered rows through the bus again (after the fix that makes them fit). Rows that still "
        "do not fit are dead-lettered anew, with the new reason."
    )

    def add_arguments(self, parser):
        parser.add_argument("--topic", choices=sorted(TABLES), help="Default: every topic.")
        parser.add_argument("--limit", type=int, default=100_000)

    def handle(self, *args, **options):
        replayed = dead_letters.replay(topic=options["topic"], limit=options["limit"])
        self.stdout.write(f"replayed {replayed} dead-lettered row(s)")
