"""A request body in Segment's format as our decoded events (``services.Decoded``), for the one
ingestion service: a batch (/v1/batch) or a single message of a given type (/v1/track, ...)."""

import uuid

import msgspec

from events.ingestion import services
from events.ingestion.segment import spec
from events.ingestion.segment.mapping import MessageEvents

BATCH_SHAPE = '{"batch": [...]}'
_batch = msgspec.json.Decoder(spec.Batch)
_raw_batch = msgspec.json.Decoder(spec.RawBatch)
_message = msgspec.json.Decoder(spec.AnyMessage)
_single = {kind: msgspec.json.Decoder(struct) for kind, struct in spec.MESSAGE_TYPES.items()}
_body_key = msgspec.json.Decoder(spec.BodyKey)


def decode_batch(body: bytes, *, app_id: uuid.UUID) -> services.Decoded:
    """Each message of the batch as an event, or the error that rejects it. Raises BadRequest for a
    body that is not a batch. As ``services.decode_events``: the whole batch is decoded once; only
    when that fails is it decoded again message by message, so each bad one gets its own reason."""
    try:
        messages = _batch.decode(body).batch
    except msgspec.ValidationError:
        messages = _each_message(body)
    except services.UNREADABLE as error:
        raise services.unreadable(body, error, BATCH_SHAPE) from None
    return _events(messages, app_id)


def decode_message(body: bytes, *, kind: str, app_id: uuid.UUID) -> services.Decoded:
    """The one message of a single-message endpoint (``kind``: track, identify, ...), as a batch of one."""
    try:
        message = _single[kind].decode(body)
    except msgspec.ValidationError as error:
        return [error]
    except services.UNREADABLE as error:
        raise services.unreadable(body, error, f"{{...}} (one {kind} message)") from None
    return _events([message], app_id)


def key_in_body(body: bytes) -> str:
    """The body's writeKey ("" when there is none to be read)."""
    try:
        return _body_key.decode(body).write_key
    except services.UNREADABLE:
        return ""


def _each_message(body: bytes) -> list[spec.Message | ValueError]:
    try:
        raws = _raw_batch.decode(body).batch
    except services.UNREADABLE as error:
        raise services.unreadable(body, error, BATCH_SHAPE) from None
    messages: list[spec.Message | ValueError] = []
    for raw in raws:
        try:
            messages.append(_message.decode(raw))
        except msgspec.DecodeError as error:
            messages.append(error)
        except UnicodeDecodeError as error:  # a raw message's strings are read only here
            raise services.unreadable(body, error, BATCH_SHAPE) from None
    return messages


def _events(messages: list, app_id: uuid.UUID) -> services.Decoded:
    to_event = MessageEvents(app_id=app_id).event
    events: services.Decoded = []
    for message in messages:
        if isinstance(message, ValueError):
            events.append(message)
            continue
        try:
            events.append(to_event(message))
        except ValueError as error:
            events.append(error)
    return events
