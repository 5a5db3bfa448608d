"""The typed rows the consumer writes: bus messages are decoded into these before any insert, so a
message that does not fit its table is dead-lettered instead of failing the batch.

A field left at its default is not written to the bus (``omit_defaults``): every default here is the
one ClickHouse gives an omitted column of that type ("", {}, 0, false), so a line means the same to
the consumer's decoder and to ClickHouse, and messages are smaller (about a sixth, for SDK events
without device details). Required fields stay required: a line without one is dead-lettered."""

import datetime as dt
import decimal
import uuid

import msgspec

from events.bus import topics

NO_REVENUE = decimal.Decimal(0)  # revenue's default, the very object: msgspec omits it by identity

# gc=False on the row types (and on the decoded event types in events.ingestion.schema): a 100-event request
# makes hundreds of them, and each tracked one counts towards the collector's next pass. They hold
# only text, numbers, UUIDs, times and dicts of those, so they can never be part of a reference cycle.


class EventRow(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    app_id: uuid.UUID
    event_id: uuid.UUID
    event_name: str
    timestamp: dt.datetime
    received_at: dt.datetime
    clock_skew_ms: int = 0
    user_id: str = ""
    session_id: str = ""
    device_id: str = ""
    device_ids: dict[str, str] = {}
    platform: str = ""
    app_version: str = ""
    os_name: str = ""
    os_version: str = ""
    device_model: str = ""
    locale: str = ""
    country: str = ""
    ip_prefix: str = ""
    user_agent: str = ""
    attribution: dict[str, str] = {}
    revenue: decimal.Decimal = NO_REVENUE
    currency: str = ""
    properties: dict[str, str] = {}
    consent: bool = False
    request_id: str = ""  # the HTTP request that brought it (core.middleware.request_id): for the logs


class TouchRow(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    app_id: uuid.UUID
    touch_id: uuid.UUID
    touch_type: str
    timestamp: dt.datetime
    received_at: dt.datetime
    origin: str = ""
    link_code: str = ""
    media_source: str = ""
    campaign: str = ""
    campaign_id: str = ""
    adset: str = ""
    adset_id: str = ""
    ad: str = ""
    ad_id: str = ""
    site_id: str = ""
    sub_params: dict[str, str] = {}
    network_click_id: str = ""
    device_id: str = ""
    device_ids: dict[str, str] = {}
    ip_prefix: str = ""
    user_agent: str = ""
    platform: str = ""
    os_name: str = ""
    os_version: str = ""
    device_model: str = ""
    consent: bool = False
    request_id: str = ""


def bus_key(row: EventRow | TouchRow) -> str:
    """The key of the bus message a request's rows go in, from its first row: the device (else, for
    an event, the user; else the row's own id). Every request of a device then goes to the same Kafka
    partition, so to one consumer, which checks each batch against those it stored before: a row a
    device sends again, in a request made up otherwise, is never being stored by two consumers at once."""
    if row.device_id:
        return row.device_id
    if isinstance(row, EventRow):
        return row.user_id or str(row.event_id)
    return str(row.touch_id)


# topic -> (row type, id column)
ROW_TYPES = {topics.EVENTS: (EventRow, "event_id"), topics.TOUCHPOINTS: (TouchRow, "touch_id")}
