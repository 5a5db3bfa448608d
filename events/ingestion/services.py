"""From a decoded batch to durable bus messages: validate each event, apply the privacy transforms,
publish the batch; and the decoder of our own contract (Segment's: events.ingestion.segment). Nothing
here touches the OLTP database or ClickHouse."""

import datetime as dt
import decimal
import uuid
from dataclasses import dataclass, field

import msgspec
from django.conf import settings

from apps_registry.keys import ApiKeyPrincipal
from events import privacy
from events.bus import Message, publish, topics
from events.ingestion import useragent
from events.ingestion.schema import DEVICE_ID_KINDS, Event, EventBatch, RawEventBatch, valid_name
from events.rows import NO_REVENUE, EventRow, bus_key
from events.subjects import blocklist

_batch_decoder = msgspec.json.Decoder(EventBatch)
_raw_batch_decoder = msgspec.json.Decoder(RawEventBatch)
_event_decoder = msgspec.json.Decoder(Event)
_encode_lines = msgspec.json.Encoder().encode_lines
_MILLISECOND = dt.timedelta(milliseconds=1)


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


OPTED_OUT = "the subject opted out: the event is not stored"


@dataclass
class Outcome:
    accepted: list[uuid.UUID] = field(default_factory=list)  # event ids, in request order
    rejected: list[dict] = field(default_factory=list)  # {"index": i, "reason": "..."}
    opted_out: int = 0  # of the rejected, events of a subject who opted out


def parse_timestamp(value: dt.datetime | int | None, received_at: dt.datetime) -> dt.datetime:
    if value is None:
        return received_at
    if isinstance(value, int):
        try:
            return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError("timestamp is not a valid epoch in milliseconds") from None
    if value.tzinfo is None:
        raise ValueError("timestamp needs a UTC offset, e.g. 2026-01-31T12:00:00Z")
    try:
        return value if value.tzinfo is dt.UTC else value.astimezone(dt.UTC)
    except OverflowError:  # 9999-12-31T23:59:59-14:00 is past the year 9999 in UTC
        raise ValueError("timestamp is out of range once in UTC") from None


class TimeBounds:
    """When the items of a request received at ``received_at`` may have happened. A device clock more
    than INGEST_MAX_FUTURE_SECONDS ahead is taken as wrong: the item is kept at the time received. An
    item older than INGEST_MAX_PAST_DAYS is refused (attribution windows have long closed on it)."""

    __slots__ = ("earliest", "latest", "received_at")

    def __init__(self, received_at: dt.datetime):
        self.received_at = received_at
        self.earliest = received_at - dt.timedelta(days=settings.INGEST_MAX_PAST_DAYS)
        self.latest = received_at + dt.timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS)

    def place(self, value: dt.datetime | int | None) -> dt.datetime:
        """The item's time; raises ValueError for one that is refused. (EventRows.row applies the same
        rule written out, and records the clock's skew.)"""
        timestamp = parse_timestamp(value, self.received_at)
        if timestamp > self.latest:
            return self.received_at
        if timestamp < self.earliest:
            raise self.too_old()
        return timestamp

    @staticmethod
    def too_old() -> ValueError:
        return ValueError(f"timestamp is more than {settings.INGEST_MAX_PAST_DAYS} days in the past")


def _property_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _text_properties(properties: dict[str, str | int | float | bool]) -> dict[str, str]:
    """``properties`` with every value as text."""
    return {k: v if type(v) is str else _property_text(v) for k, v in properties.items()}


# The order in which EventRows.row passes EventRow's fields.
ROW_ORDER = (
    "app_id",
    "event_id",
    "event_name",
    "timestamp",
    "received_at",
    "clock_skew_ms",
    "user_id",
    "session_id",
    "device_id",
    "device_ids",
    "platform",
    "app_version",
    "os_name",
    "os_version",
    "device_model",
    "locale",
    "country",
    "ip_prefix",
    "user_agent",
    "attribution",
    "revenue",
    "currency",
    "properties",
    "consent",
    "request_id",
)
if EventRow.__struct_fields__ != ROW_ORDER:
    raise ImportError(
        "EventRow's fields changed order: update ROW_ORDER and EventRows.row, which passes them by position."
    )


class EventRows:
    """Turns the valid events of one request into ``events`` rows, privacy transforms applied.
    Everything that is the same for the whole request (app, receive time, time bounds, the
    caller's IP prefix and user agent) is worked out once here, not once per event."""

    def __init__(
        self, *, app_id: uuid.UUID, ip: str | None, user_agent: str, received_at: dt.datetime, request_id: str = ""
    ):
        self.app_id = app_id
        self.request_id = request_id
        self.ip_prefix = privacy.truncate_ip(ip)
        self.user_agent = user_agent
        self.received_at = received_at
        bounds = TimeBounds(received_at)
        self.latest, self.earliest = bounds.latest, bounds.earliest
        app = str(app_id)
        self.user_pseudonym = privacy.pseudonymizer(app, "user")
        self.device_pseudonyms = {kind: privacy.pseudonymizer(app, kind) for kind in DEVICE_ID_KINDS}
        self.device = useragent.parse(user_agent)

    def row(self, event: Event) -> EventRow:
        """The row for one event; raises ValueError for an event that is well-formed but not acceptable."""
        if not valid_name(event.event_name):
            raise ValueError("event_name may contain only letters, digits, spaces and the characters _ . : -")
        received_at = self.received_at
        timestamp = event.timestamp
        if type(timestamp) is not dt.datetime or timestamp.tzinfo is not dt.UTC:
            timestamp = parse_timestamp(timestamp, received_at)
        skew_ms = (received_at - timestamp) // _MILLISECOND
        if timestamp > self.latest:  # TimeBounds.place, written out
            timestamp = received_at  # a device clock far in the future: keep the event, record the skew
        elif timestamp < self.earliest:
            raise TimeBounds.too_old()
        revenue = event.revenue
        if revenue is not None and event.currency is None:
            raise ValueError("currency is required with revenue")
        agent = event.user_agent
        if agent:
            device = useragent.parse(agent)
        else:
            agent, device = self.user_agent, self.device
        consent = event.consent
        device_id, device_ids = "", {}
        if consent and event.device_ids:  # the row's device_id: the first kind sent, in DEVICE_ID_KINDS order
            pseudonyms = self.device_pseudonyms
            for kind, value in event.device_ids.items():
                if value:
                    device_ids[kind] = pseudonyms[kind](value)
            if len(device_ids) > 1:
                for kind in DEVICE_ID_KINDS:  # a loop, not next() over a generator: half the time
                    if kind in device_ids:
                        device_id = device_ids[kind]
                        break
            elif device_ids:
                device_id = next(iter(device_ids.values()))
        properties = event.properties
        for value in properties.values():  # most hold only text: the dict itself goes in the row
            if type(value) is not str:
                properties = _text_properties(properties)
                break
        # Positional, in ROW_ORDER (checked against EventRow's fields when this module loads): msgspec
        # builds a struct from keywords much slower than from positions, and this runs once per event.
        # The helpers above are written out, not called, for the same reason. What both buy is measured
        # by benchmarks/instructions.py and kept within its budget (BENCHMARKS.md).
        return EventRow(
            self.app_id,  # app_id
            event.event_id or uuid.uuid4(),  # event_id
            event.event_name,  # event_name
            timestamp,  # timestamp
            received_at,  # received_at
            skew_ms,  # clock_skew_ms
            self.user_pseudonym(event.user_id) if consent else "",  # user_id
            (event.session_id or "") if consent else "",  # session_id
            device_id,  # device_id
            device_ids,  # device_ids
            event.platform or device.platform,  # platform
            event.app_version or "",  # app_version
            event.os_name or device.os_name,  # os_name
            event.os_version or device.os_version,  # os_version
            event.device_model or device.device_model,  # device_model
            event.locale or "",  # locale
            event.country or "",  # country
            (privacy.truncate_ip(event.ip) if event.ip else self.ip_prefix) if consent else "",  # ip_prefix
            agent if consent else "",  # user_agent
            event.attribution,  # attribution: the struct itself, which encodes as the map's JSON object
            decimal.Decimal(f"{revenue:.6f}") if revenue is not None else NO_REVENUE,  # revenue
            event.currency or "",  # currency
            properties,  # properties
            consent,  # consent
            self.request_id,  # request_id
        )


def _reason(error: Exception) -> str:
    return str(error) or type(error).__name__


# What msgspec raises for a body that is no JSON it can read: malformed JSON, a string that is not
# UTF-8, nesting deeper than the interpreter's recursion limit.
UNREADABLE = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


def unreadable(body: bytes, error: Exception, shape: str = '{"events": [...]}') -> BadRequest:
    """The 400 for a body that raised one of UNREADABLE."""
    if isinstance(error, UnicodeDecodeError):
        try:
            body.decode()
        except UnicodeDecodeError as whole:
            error = whole  # its offset counts from the body's start; msgspec's from the string's
        reason = f"not UTF-8 at byte {error.start}"
    elif isinstance(error, RecursionError):
        reason = "nested too deeply"
    else:
        reason = _reason(error)
    return BadRequest(f"Body must be JSON {shape}: {reason}")


# A decoded batch: each item is an event, or the error that rejects it (msgspec's errors are ValueErrors).
Decoded = list[Event | ValueError]


def decode_events(body: bytes) -> Decoded:
    """Each event of the batch, or the validation error that rejects it. Raises BadRequest for a body
    that is not a batch. The whole batch is decoded once into typed events; only when that fails
    (some event is invalid) is it decoded again event by event, so every bad event gets its own
    reason and the good ones in the same batch are kept."""
    try:
        return _batch_decoder.decode(body).events
    except msgspec.ValidationError:
        pass  # an invalid event, or not a batch at all: the event-by-event decode below tells which
    except UNREADABLE as error:
        raise unreadable(body, error) from None
    try:
        raws = _raw_batch_decoder.decode(body).events
    except UNREADABLE as error:
        raise unreadable(body, error) from None
    events: Decoded = []
    for raw in raws:
        try:
            events.append(_event_decoder.decode(raw))
        except msgspec.DecodeError as error:
            events.append(error)
        except UnicodeDecodeError as error:  # a raw event's strings are read only here
            raise unreadable(body, error) from None
    return events


def ingest_events(
    *, principal: ApiKeyPrincipal, events: Decoded, ip: str | None, user_agent: str, request_id: str = ""
) -> Outcome:
    """Accept the valid events of a decoded batch, whichever decoder read it (``decode_events`` for
    our contract, ``events.ingestion.segment.decoder`` for Segment's). Raises BadRequest for a batch
    without events or with too many, and BusUnavailable when the accepted events could not be made
    durable (then none is accepted)."""
    if not events:
        raise BadRequest("The batch has no events.")
    if len(events) > settings.INGEST_MAX_EVENTS_PER_BATCH:
        raise BadRequest(f"At most {settings.INGEST_MAX_EVENTS_PER_BATCH} events per request.", status=413)
    received_at = dt.datetime.now(dt.UTC)
    rows = EventRows(
        app_id=principal.app_id, ip=ip, user_agent=user_agent, received_at=received_at, request_id=request_id
    )
    outcome, accepted = Outcome(), []
    blocked = blocklist.blocked(principal.app_id)
    for index, event in enumerate(events):
        try:
            if isinstance(event, ValueError):
                raise event
            row = rows.row(event)
        except ValueError as error:
            outcome.rejected.append({"index": index, "reason": _reason(error)})
            continue
        if blocked and blocked.refuses(row):
            outcome.rejected.append({"index": index, "reason": OPTED_OUT})
            outcome.opted_out += 1
            continue
        outcome.accepted.append(row.event_id)
        accepted.append(row)
    if accepted:
        lines = _encode_lines(accepted)[:-1]  # one JSON line per row; no newline after the last
        publish(topics.EVENTS, [Message(key=bus_key(accepted[0]), value=lines)])
    return outcome
