from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from prometheus_client import start_http_server

from core.clickhouse import migrator
from core.periodic import run_until_signalled
from events.bus import BusUnavailable, get_bus
from events.bus.topics import TABLES
from events.consumer.runner import consumer_jobs, store_until_idle


class Command(BaseCommand):
    help = "Store bus messages (events, touchpoints) in ClickHouse until SIGTERM/SIGINT."

    def add_arguments(self, parser):
        parser.add_argument("--topic", action="append", choices=sorted(TABLES), help="Default: every topic.")
        parser.add_argument(
            "--batch-size", type=int, default=100, help="Messages per batch (each carries one request's rows)."
        )
        parser.add_argument("--max-wait", type=float, default=1.0, help="Seconds to fill a batch.")
        parser.add_argument("--metrics-port", type=int, default=settings.CONSUMER_METRICS_PORT, help="0: off.")
        parser.add_argument(
            "--until-idle",
            action="store_true",
            help="Stop once everything on the bus is stored (a restore drill, a catch-up); with Kafka, "
            "once the consumer groups have handed over their partitions and those are read to the end.",
        )
        parser.add_argument(
            "--assignment-timeout",
            type=float,
            default=60.0,
            help="With --until-idle on Kafka: seconds to wait for partitions before failing.",
        )

    def handle(self, *args, **options):
        pending = migrator.plan()
        if pending:
            # Rows written for a schema that is not there yet are refused and dead-lettered.
            names = ", ".join(m.label for m in pending)
            raise CommandError(f"ClickHouse migrations not applied: {names}. Run manage.py migrate_clickhouse first.")
        if options["metrics_port"]:
            start_http_server(options["metrics_port"], addr=settings.CONSUMER_METRICS_ADDRESS)
        bus = get_bus()
        if hasattr(bus, "ensure_topics"):
            bus.ensure_topics()
        topics = options["topic"] or sorted(TABLES)
        if options["until_idle"]:
            try:
                stored = store_until_idle(
                    topics, batch_size=options["batch_size"], assignment_timeout=options["assignment_timeout"]
                )
            except BusUnavailable as error:
                raise CommandError(f"Stopped before the bus was drained: {error}") from error
            self.stdout.write(f"stored {stored} message(s); the bus is empty")
            return
        jobs = consumer_jobs(topics, batch_size=options["batch_size"], max_wait=options["max_wait"])
        self.stdout.write(f"consuming {', '.join(topics)} from {bus.name}")
        run_until_signalled(jobs)
        self.stdout.write("stopped cleanly")
