import datetime as dt

from django.core.management.base import BaseCommand

from attribution import clickhouse
from events.bus import Message, publish
from events.topics import TABLES


class Command(BaseCommand):
    help = (
        "Send dead-lettered rows through the bus again (after the fix that makes them fit). Rows that still "
        "do not fit are dead-lettered anew, with the new reason."
    )

    def add_arguments(self, parser):
        parser.add_argument("--topic", choices=sorted(TABLES), help="Default: every topic.")
        parser.add_argument("--limit", type=int, default=100_000)

    def handle(self, *args, **options):
        result = clickhouse.execute(
            "SELECT dead_letter_id, topic, partition, offset, message_key, payload, reason, failed_at "
            "FROM dead_letters FINAL WHERE replayed_at IS NULL AND (topic = {topic:String} OR {topic:String} = '') "
            "ORDER BY failed_at LIMIT {limit:UInt64}",
            {"topic": options["topic"] or "", "limit": options["limit"]},
            tag="dead_letters.pending",
        )
        rows = result.dicts()
        for topic in sorted({row["topic"] for row in rows}):
            lines = [row["payload"].encode() for row in rows if row["topic"] == topic]
            publish(topic, [Message(key=f"replay-{i}", value=line) for i, line in enumerate(lines)])
        now = dt.datetime.now(dt.UTC)
        if rows:
            clickhouse.insert(
                "dead_letters",
                [{**row, "replayed_at": now, "updated_at": now} for row in rows],
                columns=[*result.columns, "replayed_at", "updated_at"],
                tag="dead_letters.replayed",
            )
        self.stdout.write(f"replayed {len(rows)} dead-lettered row(s)")
