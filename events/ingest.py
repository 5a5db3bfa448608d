"""From a request body to durable bus messages: validate each event, apply the privacy transforms,
publish the batch. Nothing here touches the OLTP database or ClickHouse."""

import datetime as dt
import uuid
from dataclasses import dataclass, field

import msgspec
from django.conf import settings

from apps_registry.keys import ApiKeyPrincipal

from . import privacy, topics, useragent
from .bus import Message, publish
from .schema import Batch, Event

_batch_decoder = msgspec.json.Decoder(Batch)
_event_decoder = msgspec.json.Decoder(Event)
_encoder = msgspec.json.Encoder()
DEVICE_ID_KINDS = ("idfa", "gaid", "idfv", "android_id", "web_id")


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class Outcome:
    accepted: list[str] = field(default_factory=list)  # event ids, in request order
    rejected: list[dict] = field(default_factory=list)  # {"index": i, "reason": "..."}


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
    return value.astimezone(dt.UTC)


def event_row(event: Event, *, app_id: str, ip: str | None, user_agent: str, received_at: dt.datetime) -> dict:
    """The ``events`` row for one valid event, privacy transforms applied. Raises ValueError."""
    timestamp = parse_timestamp(event.timestamp, received_at)
    skew_ms = int((received_at - timestamp).total_seconds() * 1000)
    if timestamp > received_at + dt.timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS):
        timestamp = received_at  # a device clock far in the future: keep the event, record the skew
    elif timestamp < received_at - dt.timedelta(days=settings.INGEST_MAX_PAST_DAYS):
        raise ValueError(f"timestamp is more than {settings.INGEST_MAX_PAST_DAYS} days in the past")
    if event.revenue is not None and event.currency is None:
        raise ValueError("currency is required with revenue")
    agent = event.user_agent or user_agent
    device = useragent.parse(agent)
    consent = event.consent
    device_ids = {}
    if consent:
        for kind in DEVICE_ID_KINDS:
            value = getattr(event.device_ids, kind)
            if value:
                device_ids[kind] = privacy.pseudonymize(app_id, kind, value)
    return {
        "app_id": app_id,
        "event_id": str(event.event_id or uuid.uuid4()),
        "event_name": event.event_name,
        "timestamp": timestamp.isoformat(),
        "received_at": received_at.isoformat(),
        "clock_skew_ms": skew_ms,
        "user_id": privacy.pseudonymize(app_id, "user", event.user_id) if consent else "",
        "session_id": (event.session_id or "") if consent else "",
        "device_id": next(iter(device_ids.values()), ""),
        "device_ids": device_ids,
        "platform": event.platform or device.platform,
        "app_version": event.app_version or "",
        "os_name": event.os_name or device.os_name,
        "os_version": event.os_version or device.os_version,
        "device_model": event.device_model or device.device_model,
        "locale": event.locale or "",
        "country": event.country or "",
        "ip_prefix": privacy.truncate_ip(event.ip or ip) if consent else "",
        "user_agent": agent if consent else "",
        "attribution": {k: v for k, v in msgspec.structs.asdict(event.attribution).items() if v},
        "revenue": f"{event.revenue:.6f}" if event.revenue is not None else "0",
        "currency": event.currency or "",
        "properties": {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in event.properties.items()},
        "consent": consent,
    }


def _reason(error: Exception) -> str:
    return str(error) or type(error).__name__


def ingest_events(*, principal: ApiKeyPrincipal, body: bytes, ip: str | None, user_agent: str) -> Outcome:
    """Accept the valid events of a batch. Raises BadRequest for an unreadable batch and
    BusUnavailable when the accepted events could not be made durable (then none is accepted)."""
    try:
        batch = _batch_decoder.decode(body)
    except msgspec.DecodeError as error:
        raise BadRequest(f'Body must be JSON {{"events": [...]}}: {_reason(error)}') from None
    if not batch.events:
        raise BadRequest("The batch has no events.")
    if len(batch.events) > settings.INGEST_MAX_EVENTS_PER_BATCH:
        raise BadRequest(f"At most {settings.INGEST_MAX_EVENTS_PER_BATCH} events per request.", status=413)
    received_at = dt.datetime.now(dt.UTC)
    app_id = str(principal.app_id)
    outcome, lines = Outcome(), []
    for index, raw in enumerate(batch.events):
        try:
            row = event_row(
                _event_decoder.decode(raw), app_id=app_id, ip=ip, user_agent=user_agent, received_at=received_at
            )
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as error:
            outcome.rejected.append({"index": index, "reason": _reason(error)})
            continue
        outcome.accepted.append(row["event_id"])
        lines.append(_encoder.encode(row))
    if lines:
        publish(topics.EVENTS, [Message(key=outcome.accepted[0], value=b"\n".join(lines))])
    return outcome
