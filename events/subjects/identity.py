"""A data subject as the stores know it: an app, the kind of identifier, and its pseudonym.

Identifiers are stored pseudonymised (``events.privacy``): a request by the raw user id or device id
is pseudonymised the same way to find the rows. A request may give the pseudonym itself instead
(what the stores, the explanation API and exports show), 32 hex characters.
"""

import re
import uuid
from dataclasses import dataclass, field

from events import privacy
from events.personal_data import SUBJECT_KINDS, USER
from events.rows import EventRow, TouchRow

PSEUDONYM = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Subject:
    app_id: uuid.UUID
    kind: str
    pseudonym: str

    @classmethod
    def of(cls, *, app_id: uuid.UUID, kind: str, value: str = "", pseudonym: str = "") -> "Subject":
        """The subject known by ``value`` (raw) or by its ``pseudonym``, exactly one of them."""
        if kind not in SUBJECT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(SUBJECT_KINDS)}")
        if bool(value) == bool(pseudonym):
            raise ValueError("give the identifier (value) or its pseudonym, one of them")
        if pseudonym:
            pseudonym = pseudonym.lower()
            if not PSEUDONYM.match(pseudonym):
                raise ValueError("a pseudonym is 32 hexadecimal characters")
            return cls(app_id, kind, pseudonym)
        stored = privacy.pseudonymize(str(app_id), kind, value)
        if not stored:
            raise ValueError("the identifier is empty")
        return cls(app_id, kind, stored)

    def params(self, seen: "Seen | None" = None) -> dict:
        seen = seen or Seen()
        return {
            "app_id": self.app_id,
            "kind": self.kind,
            "pseudonym": self.pseudonym,
            "event_ids": seen.event_ids,
            "devices": seen.devices,
        }


@dataclass(frozen=True)
class Seen:
    """What the subject's events tell (events.personal_data): their ids, and the devices they carry."""

    event_ids: list[uuid.UUID] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)


def pseudonyms_of(row: EventRow | TouchRow) -> list[str]:
    """Every pseudonym a bus row carries, whatever its kind (each kind has its own key, so two
    subjects never share one)."""
    found = [*row.device_ids.values()]
    if row.device_id:
        found.append(row.device_id)
    if isinstance(row, EventRow) and row.user_id:
        found.append(row.user_id)
    return found


def row_of(row: EventRow | TouchRow, subject: Subject) -> bool:
    if row.app_id != subject.app_id:
        return False
    if subject.kind == USER:
        return isinstance(row, EventRow) and row.user_id == subject.pseudonym
    return row.device_id == subject.pseudonym or row.device_ids.get(subject.kind) == subject.pseudonym
