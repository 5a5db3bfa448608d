import signal
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from prometheus_client import start_http_server

from attribution.clickhouse import migrator
from events.bus import get_bus
from events.consumer import LAG, TopicConsumer, consumer_group
from events.topics import TABLES

LAG_EVERY_SECONDS = 10.0


class Command(BaseCommand):
    help = "Store bus messages (events, touchpoints) in ClickHouse until SIGTERM/SIGINT."

    def add_arguments(self, parser):
        parser.add_argument("--topic", action="append", choices=sorted(TABLES), help="Default: every topic.")
        parser.add_argument(
            "--batch-size", type=int, default=100, help="Messages per batch (each carries one request's rows)."
        )
        parser.add_argument("--max-wait", type=float, default=1.0, help="Seconds to fill a batch.")
        parser.add_argument("--metrics-port", type=int, default=settings.CONSUMER_METRICS_PORT, help="0: off.")

    def handle(self, *args, **options):
        pending = migrator.plan()
        if pending:
            # Rows written for a schema that is not there yet are refused and dead-lettered.
            names = ", ".join(m.label for m in pending)
            raise CommandError(f"ClickHouse migrations not applied: {names}. Run manage.py migrate_clickhouse first.")
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        if options["metrics_port"]:
            start_http_server(options["metrics_port"], addr=settings.CONSUMER_METRICS_ADDRESS)
        bus = get_bus()
        if hasattr(bus, "ensure_topics"):
            bus.ensure_topics()
        consumers = [
            TopicConsumer(
                bus.subscribe(topic, consumer_group(topic)),
                topic,
                batch_size=options["batch_size"],
                max_wait=options["max_wait"],
            )
            for topic in options["topic"] or sorted(TABLES)
        ]
        threads = [threading.Thread(target=self._run, args=(c, stop), name=f"consume-{c.topic}") for c in consumers]
        for thread in threads:
            thread.start()
        self.stdout.write(f"consuming {', '.join(c.topic for c in consumers)} from {bus.name}")
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(timeout=0.5)
        self.stdout.write("stopped cleanly")

    def _run(self, consumer: TopicConsumer, stop: threading.Event) -> None:
        next_lag = 0.0
        try:
            while not stop.is_set():
                consumer.drain(max_seconds=LAG_EVERY_SECONDS, stop=stop)
                if time.monotonic() >= next_lag:
                    LAG.labels(consumer.topic).set(consumer.subscription.lag())
                    next_lag = time.monotonic() + LAG_EVERY_SECONDS
        finally:
            consumer.subscription.close()
            stop.set()  # one consumer failing stops the command, so a supervisor restarts it whole
