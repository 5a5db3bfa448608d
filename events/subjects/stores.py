"""Each store's part of a data-subject request: the ClickHouse tables of ``events.personal_data``
(count, export, erase) and the embedded bus's pending messages (export, erase).

ClickHouse erasure is a mutation (``ALTER TABLE ... DELETE``, waited for): it rewrites the parts that
hold the subject's rows, so the bytes are gone from disk, not only hidden as a lightweight DELETE
would leave them until a merge.
"""

from collections.abc import Iterator

import msgspec
from django.db import transaction

from core import clickhouse
from core.clickhouse.topology import mutated
from events import personal_data
from events.bus.outbox import packed, unpacked
from events.models import OutboxMessage
from events.personal_data import TABLES, USER, PersonalTable

from .identity import Seen, Subject

_CHUNK = 500


def _where(table: PersonalTable, subject: Subject) -> str | None:
    condition = table.subject_filter(subject.kind)
    if condition is None:
        return None
    return f"({table.app_filter}) AND ({condition})"


def subject_tables(subject: Subject) -> Iterator[tuple[PersonalTable, str]]:
    """The tables that can hold the subject's rows, with the condition that finds them."""
    for table in TABLES:
        where = _where(table, subject)
        if where is not None:
            yield table, where


def seen(subject: Subject) -> Seen:
    """The ids of the subject's events and every device id they carry."""
    where = _where(personal_data.table("events"), subject)
    result = clickhouse.execute(
        "SELECT groupUniqArray(event_id), arrayFilter(d -> d != '', "
        f"groupUniqArrayArray(arrayConcat([device_id], mapValues(device_ids)))) FROM events WHERE {where}",
        subject.params(),
        tag="subjects.seen",
    )
    event_ids, devices = result.rows[0]
    return Seen(sorted(event_ids), sorted(devices))


def counts(subject: Subject, seen: Seen) -> dict[str, int]:
    return {
        table.name: clickhouse.execute(
            f"SELECT count() FROM {table.name} WHERE {where}", subject.params(seen), tag=f"subjects.count.{table.name}"
        ).scalar()
        for table, where in subject_tables(subject)
    }


def rows(subject: Subject, seen: Seen) -> dict[str, list[dict]]:
    """Every stored row of the subject, per table, as JSON values (FINAL: one row per key)."""
    found = {}
    for table, where in subject_tables(subject):
        result = clickhouse.execute(
            f"SELECT * FROM {table.name} FINAL WHERE {where} ORDER BY {table.time_column}",
            subject.params(seen),
            tag=f"subjects.export.{table.name}",
        )
        found[table.name] = msgspec.to_builtins(result.dicts())
    return found


def erase(subject: Subject, seen: Seen) -> None:
    for table, where in subject_tables(subject):
        clickhouse.execute(
            f"ALTER TABLE {mutated(table.name)} DELETE WHERE {where} SETTINGS mutations_sync = 2",
            subject.params(seen),
            tag=f"subjects.erase.{table.name}",
            timeout=3600,
        )


def note_erased(subject: Subject) -> None:
    """Note the erasure as activity of every time (``activity_changes``): the reports' pre-aggregates that
    count people (dashboard/attributed_daily.py) are then read no more, and a refresh is due, whose new
    generation no longer holds the subject (one running meanwhile may have read the subject's events)."""
    clickhouse.execute(
        "INSERT INTO activity_changes (app_id, at, earliest) VALUES ({app_id:UUID}, now(), toDateTime64(0, 3, 'UTC'))",
        {"app_id": subject.app_id},
        tag="subjects.note_erased",
    )


# --- the embedded bus ---------------------------------------------------------------------------------


def _of_subject(line: bytes, subject: Subject) -> bool:
    """Whether a bus line is a row of the subject. Read as plain JSON, not as a row type: a line that
    does not fit its table (to be dead-lettered) may still name the subject."""
    try:
        row = msgspec.json.decode(line)
    except msgspec.DecodeError:
        return False
    if not isinstance(row, dict) or row.get("app_id") != str(subject.app_id):
        return False
    if subject.kind == USER:
        return row.get("user_id") == subject.pseudonym
    device_ids = row.get("device_ids")
    return row.get("device_id") == subject.pseudonym or (
        isinstance(device_ids, dict) and device_ids.get(subject.kind) == subject.pseudonym
    )


def _pending() -> Iterator[list[tuple[int, bytes]]]:
    last = 0
    while True:
        chunk = list(OutboxMessage.objects.filter(id__gt=last).order_by("id").values_list("id", "payload")[:_CHUNK])
        if not chunk:
            return
        yield [(message_id, unpacked(bytes(payload))) for message_id, payload in chunk]
        last = chunk[-1][0]


def outbox_rows(subject: Subject) -> list[dict]:
    """The subject's rows still on the embedded bus (not stored yet)."""
    return [
        msgspec.json.decode(line)
        for chunk in _pending()
        for _, payload in chunk
        for line in payload.split(b"\n")
        if _of_subject(line, subject)
    ]


def outbox_erase(subject: Subject) -> int:
    """Take the subject's rows out of the pending messages (a message left empty goes); returns how
    many. A consumer that read a message before it was rewritten drops those rows at store time
    (``blocklist``), and the erasure's verification catches any it stored meanwhile."""
    erased = 0
    for chunk in _pending():
        for message_id, payload in chunk:
            lines = payload.split(b"\n")
            kept = [line for line in lines if not _of_subject(line, subject)]
            if len(kept) == len(lines):
                continue
            erased += len(lines) - len(kept)
            with transaction.atomic():
                if kept:
                    OutboxMessage.objects.filter(id=message_id).update(payload=packed(b"\n".join(kept)))
                else:
                    OutboxMessage.objects.filter(id=message_id).delete()
    return erased
