from core.command_runs import ServerCommand
from core.periodic import run_until_signalled
from events.subjects.services import subject_requests_job, subject_requests_run


class Command(ServerCommand):
    help = "Run pending erasure requests (made through the API or Django admin); --follow: until SIGTERM."

    def add_arguments(self, parser):
        parser.add_argument("--follow", action="store_true", help="Keep running new requests until SIGTERM.")

    def can_hand_over(self, options: dict) -> bool:
        return not options["follow"]

    def handle(self, *args, **options):
        if options["follow"]:
            run_until_signalled([subject_requests_job()])
            return
        self.stdout.write(f"ran {subject_requests_run()} erasure request(s)")
