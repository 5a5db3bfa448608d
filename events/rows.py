"""The typed rows the consumer writes: bus messages are decoded into these before any insert, so a
message that does not fit its table is dead-lettered instead of failing the batch."""

import datetime as dt
import decimal
import uuid

import msgspec

from . import topics


class EventRow(msgspec.Struct, forbid_unknown_fields=True):
    app_id: uuid.UUID
    event_id: uuid.UUID
    event_name: str
    timestamp: dt.datetime
    received_at: dt.datetime
    clock_skew_ms: int
    user_id: str
    session_id: str
    device_id: str
    device_ids: dict[str, str]
    platform: str
    app_version: str
    os_name: str
    os_version: str
    device_model: str
    locale: str
    country: str
    ip_prefix: str
    user_agent: str
    attribution: dict[str, str]
    revenue: decimal.Decimal
    currency: str
    properties: dict[str, str]
    consent: bool


class TouchRow(msgspec.Struct, forbid_unknown_fields=True):
    app_id: uuid.UUID
    touch_id: uuid.UUID
    touch_type: str
    timestamp: dt.datetime
    received_at: dt.datetime
    origin: str
    link_code: str
    media_source: str
    campaign: str
    campaign_id: str
    adset: str
    adset_id: str
    ad: str
    ad_id: str
    site_id: str
    sub_params: dict[str, str]
    network_click_id: str
    device_id: str
    device_ids: dict[str, str]
    ip_prefix: str
    user_agent: str
    platform: str
    os_name: str
    os_version: str
    device_model: str
    consent: bool


# topic -> (row type, id column)
ROW_TYPES = {topics.EVENTS: (EventRow, "event_id"), topics.TOUCHPOINTS: (TouchRow, "touch_id")}
