"""Storing a batch of bus deliveries in its ClickHouse table, exactly once as seen by the reports.

For each batch: decode every line into its typed row (a line that does not fit is dead-lettered
with the reason, the other lines of its message are kept), drop the rows of subjects who opted out
or were erased after the row was received (``events.subjects.blocklist``), drop ids already stored (a redelivery
after a crash, or a client sending an event again in another request) or repeated in the batch, and
insert with a deduplication token derived from the rows (a retried insert is a no-op). The runner
(``runner.py``) commits the deliveries only after ``write`` returned.
"""

import datetime as dt
import hashlib
import logging
import operator
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import msgspec
from django.conf import settings

from core import clickhouse
from core.metrics import CONSUMER_DUPLICATES, CONSUMER_ROWS_DROPPED, CONSUMER_ROWS_STORED
from events.bus import Delivery
from events.bus.topics import EVENTS, TABLES
from events.rows import ROW_TYPES
from events.subjects import blocklist

from . import dead_letters

logger = logging.getLogger(__name__)

# A row is looked for among the stored rows of its app whose timestamps lie within this of its
# message's: a redelivered row, or an event its SDK sent again, has the very same timestamp, so the
# check reads the days of the batch's messages, not every id of the app (nor every day between an
# old event in the batch and the newest). The exception is an event stored at its receive time
# (sent without a timestamp, or from a clock in the future): a copy sent again later is stored at a
# later one, so for those ids alone the check looks back INGEST_MAX_PAST_DAYS.
DUPLICATE_WINDOW = dt.timedelta(days=1)
_ID_BITS = 128
_ID_MASK = (1 << _ID_BITS) - 1


def _rows_token(table: str, keys: Iterable[int]) -> str:
    """The insert deduplication token of rows named by their keys: derived from what the insert
    holds (never from bus offsets alone, which an emptied SQLite outbox may hand out again), so a
    retried insert of the same rows is dropped by ClickHouse and any other is not. Hashed as bytes:
    a batch holds thousands."""
    digest = hashlib.sha256(b"".join(key.to_bytes(32, "big") for key in sorted(keys))).hexdigest()[:40]
    return f"{table}:{digest}"


def _month(timestamp: dt.datetime) -> int:
    """The month ClickHouse files a row under (``toYYYYMM`` of its UTC timestamp), e.g. 202611. A
    line's timestamp may carry any offset; one without is read as UTC, as ClickHouse reads it."""
    if timestamp.tzinfo is not None and timestamp.tzinfo is not dt.UTC:
        timestamp = timestamp.astimezone(dt.UTC)
    return timestamp.year * 100 + timestamp.month


def _merged(spans: list[tuple[dt.datetime, dt.datetime]]) -> list[tuple[dt.datetime, dt.datetime]]:
    """The time ranges that ``spans`` cover together, sorted, none overlapping."""
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for low, high in sorted(spans):
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


class DecodedRows(Sequence):
    """JSON lines as the rows they encode, each decoded when it is read. Only the server backend reads
    them (its native protocol sends typed values); the embedded one inserts the lines themselves. The
    consumer does not keep the rows it decoded to check the lines: thousands of live rows, each with
    its dicts, make Python's garbage collector cost several times what decoding them does."""

    def __init__(self, decode: Callable[[bytes], msgspec.Struct], lines: Sequence[bytes]):
        self._decode = decode
        self._lines = lines

    def __len__(self) -> int:
        return len(self._lines)

    def __getitem__(self, index: int | slice):
        if isinstance(index, slice):
            return [self._decode(line) for line in self._lines[index]]
        return self._decode(self._lines[index])


@dataclass
class Batch:
    """The lines of some deliveries, checked, one per row key, ready to store. A key is a row's app id
    and own id as one integer, ``(app_id << 128) | id``: cheaper to hash and sort than a pair of
    UUIDs. Parallel lists, not a tuple per line: fewer objects for the garbage collector to visit."""

    deliveries: Sequence[Delivery]
    keys: list[int] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)
    sources: list[Delivery] = field(default_factory=list)  # the delivery each line came in
    valid: int = 0  # valid lines, those repeating a key in the batch included
    failures: list[tuple[Delivery, bytes, str]] = field(default_factory=list)
    # For the stored-id check and the insert, worked out once by ``prepare`` (a write that is retried
    # after ClickHouse came back reuses them):
    apps: list[uuid.UUID] = field(default_factory=list)
    # Where a stored copy of a row can be (``_stored``): the rows of client timestamps within
    # DUPLICATE_WINDOW of their message's, in time ranges that do not overlap; the rows stored at their
    # receive time (events) within INGEST_MAX_PAST_DAYS before it. Ids in hex, comma-separated.
    ids: str = ""
    windows: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)
    receipt_ids: str = ""
    receipt_window: tuple[dt.datetime, dt.datetime] | None = None
    token: str = ""  # the insert deduplication token of all the keys
    # Each key's row's month, as ClickHouse files it: an insert statement takes the rows of one month
    # (one partition, so one part and one deduplication token).
    months: list[int] = field(default_factory=list)
    # The whole batch's insert body, built ahead (while the batch before is being written).
    encoded: clickhouse.JsonLines | None = None
    requests: set[str] = field(default_factory=set)  # the ids of the HTTP requests that sent the rows


class TableWriter:
    """Stores the deliveries of one topic in its table."""

    def __init__(self, topic: str):
        self.topic = topic
        self.table = TABLES[topic]
        self.row_type, self.id_column = ROW_TYPES[topic]
        self.row_id = operator.attrgetter(self.id_column)
        self.columns = list(self.row_type.__struct_fields__)
        self.decoder = msgspec.json.Decoder(self.row_type)
        # An event sent without a timestamp (or from a clock in the future) is stored at its receive
        # time, so a copy sent again later is stored at a later one: those ids are looked for further
        # back (``Batch.receipt_ids``). Touchpoints have no such case.
        self.checks_receipts = topic == EVENTS

    def prepare(self, deliveries: Sequence[Delivery]) -> Batch:
        """Check every line in full against its row type (types, nothing missing, nothing unknown):
        ClickHouse itself would fill in a missing column, drop an unknown one and read a null as a
        default, so a line it accepts is not necessarily a row. Keeps the first line of each key."""
        batch, unique, row_id = Batch(deliveries), set(), self.row_id
        keys, lines, sources, months = batch.keys, batch.lines, batch.sources, batch.months
        spans = []  # each message's earliest and latest client timestamp
        receipts: list[tuple[int, dt.datetime]] = []  # (events) the rows stored at their receive time
        for delivery in deliveries:
            message_lines, failed_before = delivery.value.split(b"\n"), len(batch.failures)
            rows = self._decode(delivery, message_lines, batch.failures)
            if len(batch.failures) > failed_before:
                message_lines = [line for line, row in zip(message_lines, rows, strict=True) if row is not None]
                rows = [row for row in rows if row is not None]
            # A message holds one request's rows, so one app's: its list (usually empty) is read once.
            blocked = blocklist.blocked(rows[0].app_id) if rows else None
            if blocked:
                reasons = [blocked.drops(row) for row in rows]
                if any(reasons):
                    for reason in filter(None, reasons):
                        CONSUMER_ROWS_DROPPED.labels(self.topic, reason).inc()
                    message_lines = [line for line, why in zip(message_lines, reasons, strict=True) if why is None]
                    rows = [row for row, why in zip(rows, reasons, strict=True) if why is None]
            batch.valid += len(rows)
            if rows and rows[0].request_id:  # a message is one request's rows
                batch.requests.add(rows[0].request_id)
            # Whole lists per message, not a step per row: this runs for every row stored.
            message_keys = [(row.app_id.int << _ID_BITS) | row_id(row).int for row in rows]
            if not unique.isdisjoint(message_keys) or len(set(message_keys)) < len(message_keys):
                picks = []  # a key seen before in the batch, or twice in this message: its first line only
                for i, key in enumerate(message_keys):
                    if key not in unique:
                        unique.add(key)
                        picks.append(i)
                message_keys = [message_keys[i] for i in picks]
                message_lines = [message_lines[i] for i in picks]
                rows = [rows[i] for i in picks]
            unique.update(message_keys)
            keys += message_keys
            lines += message_lines
            sources += [delivery] * len(rows)
            timestamps = [row.timestamp for row in rows]
            months += map(_month, timestamps)
            if self.checks_receipts and any(row.timestamp == row.received_at for row in rows):
                receipts += [
                    (key, row.timestamp)
                    for key, row in zip(message_keys, rows, strict=True)
                    if row.timestamp == row.received_at
                ]
                timestamps = [row.timestamp for row in rows if row.timestamp != row.received_at]
            if timestamps:
                spans.append((min(timestamps) - DUPLICATE_WINDOW, max(timestamps) + DUPLICATE_WINDOW))
        batch.apps = [uuid.UUID(int=app) for app in {key >> _ID_BITS for key in keys}]
        batch.windows = _merged(spans)
        if receipts:
            at_receipt = {key for key, _ in receipts}
            batch.receipt_ids = ",".join(f"{key & _ID_MASK:032x}" for key in at_receipt)
            times = [timestamp for _, timestamp in receipts]
            # A copy of such an event stored before may be at its own receive time (up to
            # INGEST_MAX_PAST_DAYS before), or, sent from a clock since corrected, at its timestamp.
            batch.receipt_window = (
                min(times) - dt.timedelta(days=settings.INGEST_MAX_PAST_DAYS),
                max(times) + DUPLICATE_WINDOW,
            )
            keys_with_timestamps = [key for key in keys if key not in at_receipt]
        else:
            keys_with_timestamps = keys
        batch.ids = ",".join(f"{key & _ID_MASK:032x}" for key in keys_with_timestamps)
        batch.token = _rows_token(self.table, keys)
        batch.encoded = clickhouse.JsonLines(lines)
        return batch

    def _decode(self, delivery: Delivery, lines: list[bytes], failures: list) -> list:
        """Each line's row, or None (with its reason in ``failures``) for a line that does not fit.
        A whole message is decoded at once; only a message with a bad line is decoded line by line."""
        try:
            rows = self.decoder.decode_lines(delivery.value)
            if len(rows) == len(lines):  # decode_lines skips blank lines, which do not fit
                return rows
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass
        rows = []
        for line in lines:
            try:
                rows.append(self.decoder.decode(line))
            except (msgspec.ValidationError, msgspec.DecodeError) as error:
                rows.append(None)
                failures.append((delivery, line, f"row does not fit {self.table}: {error}"))
        return rows

    def _stored(self, batch: Batch) -> set[int]:
        """Which of the batch's keys the table holds already (where ``Batch`` says a copy can be). One
        statement: the rows of client timestamps within the batch's time ranges, and those stored at
        their receive time further back (few, so the id's bloom filter skips most of the table). The
        ids travel as one string of hex ids, and the pairs are matched here: ClickHouse reads that
        faster than an array of UUIDs, or of (app, id) pairs. PREWHERE: only the id
        column is read for the rows of the window, the others only for the (rare) rows found."""
        params: dict = {"apps": batch.apps}
        selects = []
        if batch.ids:
            ranges = []
            for i, (low, high) in enumerate(batch.windows):
                ranges.append(f"timestamp BETWEEN {{low{i}:DateTime64(3, 'UTC')}} AND {{high{i}:DateTime64(3, 'UTC')}}")
                params |= {f"low{i}": low, f"high{i}": high}
            selects.append(self._stored_select("ids", " OR ".join(ranges)))
            params["ids"] = batch.ids
        if batch.receipt_ids:
            low, high = batch.receipt_window
            window = "timestamp BETWEEN {receipt_low:DateTime64(3, 'UTC')} AND {receipt_high:DateTime64(3, 'UTC')}"
            selects.append(self._stored_select("receipt_ids", window))
            params |= {"receipt_ids": batch.receipt_ids, "receipt_low": low, "receipt_high": high}
        result = clickhouse.execute(" UNION ALL ".join(selects), params, tag=f"consumer.{self.table}.seen")
        return {(app.int << _ID_BITS) | row_id.int for app, row_id in result.rows}

    def _stored_select(self, ids: str, window: str) -> str:
        return (
            f"SELECT DISTINCT app_id, {self.id_column} FROM {self.table} "
            f"PREWHERE {self.id_column} IN (SELECT arrayJoin(CAST(splitByChar(',', {{{ids}:String}}) AS Array(UUID)))) "
            f"WHERE app_id IN {{apps:Array(UUID)}} AND ({window})"
        )

    def _insert(self, batch: Batch, picks: Sequence[int], failures: list) -> int:
        """Insert the batch's lines at ``picks`` (rows of one month: one part); when ClickHouse refuses
        them, halve until the lines it refuses are found one by one (dead-lettered) and the others
        stored. Returns the number stored."""
        if len(picks) == len(batch.keys):
            lines, token, encoded = batch.lines, batch.token, batch.encoded
        else:
            lines = [batch.lines[i] for i in picks]
            token = _rows_token(self.table, (batch.keys[i] for i in picks))
            encoded = clickhouse.JsonLines(lines)
        try:
            clickhouse.insert(
                self.table,
                DecodedRows(self.decoder.decode, lines),
                columns=self.columns,
                tag=f"consumer.{self.table}",
                deduplication_token=token,
                encoded=encoded,
                unique=True,  # prepare() keeps one line per key, and write() only keys not stored yet
            )
            return len(picks)
        except clickhouse.QueryError as error:
            if len(picks) == 1:
                failures.append((batch.sources[picks[0]], lines[0], f"ClickHouse refused the row: {error}"))
                return 0
        half = len(picks) // 2
        return self._insert(batch, picks[:half], failures) + self._insert(batch, picks[half:], failures)

    def write(self, batch: Batch) -> int:
        """Store a prepared batch; returns the number of rows inserted. Raises ClickHouseError (other
        than QueryError) for the caller to retry with the same batch."""
        stored_before = self._stored(batch) if batch.keys else set()
        by_month: dict[int, Sequence[int]] = {}
        if not stored_before and batch.months and min(batch.months) == max(batch.months):
            by_month[batch.months[0]] = range(len(batch.keys))  # the common case: all new, one month
        else:
            for i, key in enumerate(batch.keys):
                if key not in stored_before:
                    by_month.setdefault(batch.months[i], []).append(i)
        CONSUMER_DUPLICATES.labels(self.topic).inc(batch.valid - sum(map(len, by_month.values())))
        failures = list(batch.failures)  # a retried write must not see the rows refused the first time
        stored = sum(self._insert(batch, picks, failures) for picks in by_month.values())
        dead_letters.store(self.topic, failures)
        CONSUMER_ROWS_STORED.labels(self.topic).inc(stored)
        logger.info(
            "stored %d %s row(s) of %d message(s) from request(s) %s",
            stored,
            self.table,
            len(batch.deliveries),
            ",".join(sorted(batch.requests)) or "-",
        )
        return stored
