"""Which subjects of an app must not be stored: those who opted out (from the edge on, until the
opt-out is removed) and those just erased (rows received before the erasure, still on the bus:
Kafka messages cannot be edited, so the consumer drops those rows when it stores a batch).

Ingestion asks for every request and the consumer for every message, so each process remembers an
app's list for OPT_OUT_CACHE_SECONDS and then asks the database only whether it changed (one indexed
count per app), reading the list again only when it did. The process that changes a list forgets its
copy at once; the others follow within OPT_OUT_CACHE_SECONDS (an erasure's verification allows for it).
"""

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Max
from django.utils import timezone

from core.memo import ProcessMemo
from events.models import OptOut, SubjectRequest
from events.rows import EventRow, TouchRow

from .identity import pseudonyms_of

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Blocked:
    opted_out: frozenset[str] = frozenset()  # pseudonyms
    erased: dict[str, dt.datetime] = field(default_factory=dict)  # pseudonym -> when its erasure began

    def __bool__(self) -> bool:
        return bool(self.opted_out or self.erased)

    def refuses(self, row: EventRow | TouchRow) -> bool:
        """At the edge: the row's subject opted out."""
        return not self.opted_out.isdisjoint(pseudonyms_of(row))

    def drops(self, row: EventRow | TouchRow) -> str | None:
        """At store time: why the row is not stored (``opted_out``, ``erased``), or None."""
        for pseudonym in pseudonyms_of(row):
            if pseudonym in self.opted_out:
                return "opted_out"
            erased_at = self.erased.get(pseudonym)
            if erased_at is not None and row.received_at < erased_at:
                return "erased"
        return None


NOTHING = Blocked()
remembered = ProcessMemo(max_entries=100_000)  # app id -> Blocked, for OPT_OUT_CACHE_SECONDS
_loaded: dict[uuid.UUID, tuple[tuple, Blocked]] = {}  # app id -> (the version read, its list)


def _erasures(app_id: uuid.UUID):
    since = timezone.now() - dt.timedelta(days=settings.ERASURE_TOMBSTONE_DAYS)
    return SubjectRequest.objects.filter(
        app_id=app_id, action=SubjectRequest.Action.ERASURE, started_at__gte=since
    ).exclude(status=SubjectRequest.Status.PENDING)


def _version(app_id: uuid.UUID) -> tuple:
    opt_outs = OptOut.objects.filter(app_id=app_id).aggregate(n=Count("id"), last=Max("id"))
    erasures = _erasures(app_id).aggregate(n=Count("id"), last=Max("started_at"))
    return opt_outs["n"], opt_outs["last"], erasures["n"], erasures["last"]


def _read(app_id: uuid.UUID) -> Blocked:
    opted_out = frozenset(OptOut.objects.filter(app_id=app_id).values_list("pseudonym", flat=True))
    erased: dict[str, dt.datetime] = {}
    for pseudonym, started_at in _erasures(app_id).values_list("pseudonym", "started_at"):
        erased[pseudonym] = max(started_at, erased.get(pseudonym, started_at))
    return Blocked(opted_out, erased)


def blocked(app_id: uuid.UUID) -> Blocked:
    """The app's list as this process knows it (NOTHING for most apps)."""
    known = remembered.get(app_id)
    if known is not None:
        return known
    loaded = _loaded.get(app_id)
    try:
        version = _version(app_id)
        if loaded is None or loaded[0] != version:
            loaded = _loaded[app_id] = (version, _read(app_id) if version[0] or version[2] else NOTHING)
    except DatabaseError:
        if loaded is None:
            raise
        logger.exception("opt-out list of app %s unreadable; keeping the one read before", app_id)
    remembered.put(app_id, loaded[1], settings.OPT_OUT_CACHE_SECONDS)
    return loaded[1]


def forget(app_id: uuid.UUID) -> None:
    """After a change made by this process: read the list again on the next row."""
    remembered.forget(app_id)
