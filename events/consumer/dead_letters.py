"""The dead-letter store: every row the consumer cannot store, kept with its message's position and the
reason, until a fix makes it fit and ``replay`` sends it through the bus again."""

import datetime as dt
import hashlib
import logging
import uuid

from core import clickhouse
from core.metrics import DEAD_LETTERED
from events.bus import Delivery, Message, publish

logger = logging.getLogger(__name__)


def _id(topic: str, delivery: Delivery, payload: bytes) -> uuid.UUID:
    """Named by what failed where: the same failure stored twice is one row (ReplacingMergeTree)."""
    where = f"{topic}\x1f{delivery.partition}\x1f{delivery.offset}\x1f{delivery.key}\x1f".encode()
    return uuid.UUID(bytes=hashlib.sha256(where + payload).digest()[:16])


def _token(topic: str, failures: list[tuple[Delivery, bytes, str]]) -> str:
    """The insert deduplication token of one store: a retry of the same failures inserts nothing."""
    identities = "\n".join(sorted(f"{d.partition}:{d.offset}:{d.key}:{payload!r}" for d, payload, _ in failures))
    return f"dead:{topic}:{hashlib.sha256(identities.encode()).hexdigest()[:40]}"


def store(topic: str, failures: list[tuple[Delivery, bytes, str]]) -> None:
    """Keep each row that cannot be stored, with its message's position and the reason."""
    if not failures:
        return
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "dead_letter_id": _id(topic, d, payload),
            "topic": topic,
            "partition": d.partition,
            "offset": d.offset,
            "message_key": d.key,
            "payload": payload.decode("utf-8", "replace"),
            "reason": reason[:2000],
            "failed_at": now,
        }
        for d, payload, reason in failures
    ]
    clickhouse.insert(
        "dead_letters",
        rows,
        columns=list(rows[0]),
        tag="consumer.dead_letters",
        deduplication_token=_token(topic, failures),
    )
    DEAD_LETTERED.labels(topic).inc(len(rows))
    logger.warning("dead-lettered %d row(s) of %s; first reason: %s", len(rows), topic, failures[0][2])


def replay(*, topic: str | None = None, limit: int = 100_000) -> int:
    """Send dead-lettered rows through the bus again (after the fix that makes them fit) and mark them
    replayed; rows that still do not fit are dead-lettered anew, with the new reason. Returns how
    many were replayed."""
    result = clickhouse.execute(
        "SELECT dead_letter_id, topic, partition, offset, message_key, payload, reason, failed_at "
        "FROM dead_letters FINAL WHERE replayed_at IS NULL AND (topic = {topic:String} OR {topic:String} = '') "
        "ORDER BY failed_at LIMIT {limit:UInt64}",
        {"topic": topic or "", "limit": limit},
        tag="dead_letters.pending",
    )
    rows = result.dicts()
    for replayed_topic in sorted({row["topic"] for row in rows}):
        lines = [row["payload"].encode() for row in rows if row["topic"] == replayed_topic]
        publish(replayed_topic, [Message(key=f"replay-{i}", value=line) for i, line in enumerate(lines)])
    now = dt.datetime.now(dt.UTC)
    if rows:
        clickhouse.insert(
            "dead_letters",
            [{**row, "replayed_at": now, "updated_at": now} for row in rows],
            columns=[*result.columns, "replayed_at", "updated_at"],
            tag="dead_letters.replayed",
        )
    return len(rows)
