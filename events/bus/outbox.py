"""The embedded bus: messages are rows in the OLTP database (``events.OutboxMessage``).

A message nobody holds has a nil lease owner and a lease that ended in 1970, not NULLs: values of
the size a lease writes. Its first lease (the delivery count going from 0 to 1 included) then
leaves the row's size unchanged, and SQLite overwrites the changed bytes in place instead of
rewriting the whole row, payload and all. (PostgreSQL stores large payloads apart from the row
anyway.)

Payloads of a page or more are stored LZ4-compressed: compressing costs less than SQLite's writing
the bytes it saves, on the request's path. A payload under a page (a click, a single event) is
stored as it is. Messages are delivered as they were
published, compressed or not.
"""

import datetime as dt
import time
import uuid
from collections.abc import Sequence

import lz4.frame
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from events.models import OutboxMessage

from .base import BusUnavailable, Delivery, Message

_IDLE_SLEEP_SECONDS = 0.05
_NO_OWNER = uuid.UUID(int=0)
_NO_LEASE = dt.datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=dt.UTC)  # with microseconds, as a lease almost always has
_PAGE = 4096  # SQLite's page size
_LZ4_FRAME = b"\x04\x22\x4d\x18"  # the magic number an LZ4 frame starts with; JSON never does


def packed(payload: bytes) -> bytes:
    """A payload as stored (what ``unpacked`` reads back)."""
    # Under a page, compressing saves no page write, and LZ4's frame makes a small payload larger:
    # stored as published. A negative level is LZ4's acceleration: much less CPU than the default
    # for a few more bytes (BENCHMARKS.md).
    if len(payload) < _PAGE:
        return payload
    return lz4.frame.compress(payload, compression_level=-4)


def unpacked(payload: bytes) -> bytes:
    """A stored payload as it was published."""
    return lz4.frame.decompress(payload) if payload[:4] == _LZ4_FRAME else payload


class OutboxBus:
    name = "outbox"

    def __init__(self, lease_seconds: float):
        self.lease_seconds = lease_seconds
        db = connections[DEFAULT_DB_ALIAS]
        quote = db.ops.quote_name
        names = ("topic", "key", "payload", "created_at", "lease_owner", "leased_until", "deliveries")
        columns = ", ".join(quote(name) for name in names)
        # Every request publishes here, so the INSERT goes to the driver's own cursor, in the driver's
        # placeholder style: Django's cursor wrapper (query rewriting, wrappers, bookkeeping) costs more
        # than the INSERT itself, and the ORM's bulk_create four times that.
        mark = "?" if db.vendor == "sqlite" else "%s"
        self._insert = (
            f"INSERT INTO {quote(OutboxMessage._meta.db_table)} ({columns}) "
            f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark}, {mark}, 0)"
        )
        owner = OutboxMessage._meta.get_field("lease_owner").get_db_prep_value(_NO_OWNER, db)
        self._no_lease = (owner, db.ops.adapt_datetimefield_value(_NO_LEASE))

    def publish(self, topic: str, messages: Sequence[Message]) -> None:
        db = connections[DEFAULT_DB_ALIAS]  # once: each `connection.x` goes through a context-local lookup
        created_at = db.ops.adapt_datetimefield_value(timezone.now())
        rows = [(topic, m.key, packed(m.value), created_at, *self._no_lease) for m in messages]
        try:
            if len(rows) == 1 and db.get_autocommit():
                # One statement in autocommit mode is its own transaction: committed when execute()
                # returns, without atomic()'s bookkeeping, which costs more than the INSERT itself.
                self._execute(db, rows)
                return
            # durable=True: refuse to run inside an outer transaction, whose commit we could not see.
            with transaction.atomic(durable=True):
                self._execute(db, rows)
        except DatabaseError as error:
            raise BusUnavailable(f"Outbox write failed: {error}") from error

    def _execute(self, db, rows: list[tuple]) -> None:
        # wrap_database_errors turns the driver's errors into Django's and marks the connection,
        # so a broken one is replaced at the end of the request as after any ORM query.
        with db.wrap_database_errors:
            db.ensure_connection()
            cursor = db.connection.cursor()
            try:
                if len(rows) == 1:
                    cursor.execute(self._insert, rows[0])
                else:
                    cursor.executemany(self._insert, rows)
            finally:
                cursor.close()

    def subscribe(self, topic: str, group: str) -> "OutboxSubscription":
        return OutboxSubscription(topic, self.lease_seconds)

    def check(self) -> None:
        try:
            OutboxMessage.objects.exists()
        except DatabaseError as error:
            raise BusUnavailable(f"Outbox table unreachable: {error}") from error


class OutboxSubscription:
    """Leases batches of one topic. The outbox has no consumer groups: one logical consumer per topic."""

    def __init__(self, topic: str, lease_seconds: float):
        self.topic = topic
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.owner = uuid.uuid4()

    def _claim(self, max_messages: int) -> list[Delivery]:
        now = timezone.now()
        free = Q(leased_until__isnull=True) | Q(leased_until__lt=now)
        with transaction.atomic():
            rows = list(
                OutboxMessage.objects.filter(free, topic=self.topic)
                .order_by("id")
                .values_list("id", "key", "payload")[:max_messages]
            )
            if not rows:
                return []
            ids = [row[0] for row in rows]
            leased = OutboxMessage.objects.filter(free, id__in=ids).update(
                lease_owner=self.owner, leased_until=now + self.lease, deliveries=F("deliveries") + 1
            )
            if leased < len(rows):  # another consumer leased some of them meanwhile (PostgreSQL): ours only
                rows = list(
                    OutboxMessage.objects.filter(id__in=ids, lease_owner=self.owner)
                    .order_by("id")
                    .values_list("id", "key", "payload")
                )
        return [
            Delivery(topic=self.topic, key=key, value=unpacked(bytes(payload)), partition=0, offset=message_id)
            for message_id, key, payload in rows
        ]

    def poll(self, max_messages: int, timeout: float) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                deliveries = self._claim(max_messages)
            except DatabaseError as error:
                raise BusUnavailable(f"Outbox read failed: {error}") from error
            if deliveries or time.monotonic() >= deadline:
                return deliveries
            time.sleep(_IDLE_SLEEP_SECONDS)

    def commit(self, deliveries: Sequence[Delivery]) -> None:
        ids = [d.offset for d in deliveries]
        with transaction.atomic():
            OutboxMessage.objects.filter(id__in=ids, lease_owner=self.owner).delete()

    def lag(self) -> int:
        return OutboxMessage.objects.filter(topic=self.topic).count()

    def caught_up(self, *, assignment_timeout: float) -> bool:
        """Yes: every subscription may lease any message of the topic, and the empty poll found none
        free. (Messages another consumer holds are its to store.)"""
        return True

    def close(self) -> None:
        """Hand back what this subscription leased but did not commit, so it is delivered at once."""
        OutboxMessage.objects.filter(lease_owner=self.owner).update(lease_owner=_NO_OWNER, leased_until=_NO_LEASE)
