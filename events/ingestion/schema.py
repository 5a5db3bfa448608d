"""The SDK event contract, checked with msgspec (fast, strict, with a path in every error).

A request is ``{"events": [event, ...]}``; a single event is a batch of one. Each event is checked
on its own, so a bad event is reported by its index and the good ones in the same batch are kept.
"""

import datetime as dt
import functools
import re
import uuid
from typing import Annotated, Literal

import msgspec

# An event name's characters are checked by ``valid_name`` when the row is built, not by a pattern
# here: msgspec runs a pattern on every value, and a batch repeats the same few names, which
# valid_name remembers.
NAME_PATTERN = r"^[A-Za-z0-9_.:\- ]+$"
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64, extra_json_schema={"pattern": NAME_PATTERN})]
Short = Annotated[str, msgspec.Meta(max_length=128)]
Medium = Annotated[str, msgspec.Meta(max_length=256)]
Long = Annotated[str, msgspec.Meta(max_length=1024)]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")]
Money = Annotated[float, msgspec.Meta(ge=0, lt=1e12)]
PropertyValue = Annotated[str, msgspec.Meta(max_length=1024)] | int | float | bool
Properties = Annotated[
    dict[Annotated[str, msgspec.Meta(min_length=1, max_length=64)], PropertyValue], msgspec.Meta(max_length=50)
]

STANDARD_EVENTS = frozenset({"install", "first_open", "open", "session_start", "purchase", "sign_up"})
Platform = Literal["ios", "android", "web"]


@functools.lru_cache(maxsize=4096)
def valid_name(name: str) -> bool:
    return re.fullmatch(NAME_PATTERN, name) is not None


# The kinds of device id, in the order that picks a row's one ``device_id`` when a device sends several.
DEVICE_ID_KINDS = ("idfa", "gaid", "idfv", "android_id", "web_id")
DeviceKind = Literal[DEVICE_ID_KINDS]
# A plain dict, not a struct: a device sends one or two of the five kinds, and walking the ids it sent
# costs less than reading all five fields of a struct and skipping the empty ones (once per event).
DeviceIds = Annotated[
    dict[DeviceKind, Short | None],
    msgspec.Meta(extra_json_schema={"propertyNames": {"enum": list(DEVICE_ID_KINDS)}}),
]


# gc=False: see events.rows (no reference cycle is possible; hundreds are decoded per request).
class Attribution(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    source: Medium | None = None
    medium: Medium | None = None
    campaign: Medium | None = None
    content: Medium | None = None
    term: Medium | None = None
    click_id: Short | None = None
    link_code: Short | None = None


class Event(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    event_name: Name
    event_id: uuid.UUID | None = None
    timestamp: dt.datetime | int | None = None  # ISO 8601 with offset, or Unix epoch milliseconds
    device_ids: DeviceIds = {}
    user_id: Medium | None = None
    session_id: Short | None = None
    platform: Platform | None = None
    app_version: Short | None = None
    os_name: Short | None = None
    os_version: Short | None = None
    device_model: Short | None = None
    locale: Annotated[str, msgspec.Meta(max_length=35)] | None = None
    country: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")] | None = None
    ip: Annotated[str, msgspec.Meta(max_length=45)] | None = None  # server-to-server senders pass the device's IP
    user_agent: Long | None = None
    attribution: Attribution = msgspec.field(default_factory=Attribution)
    revenue: Money | None = None
    currency: Currency | None = None
    properties: Properties = msgspec.field(default_factory=dict)
    consent: bool = True


class EventBatch(msgspec.Struct, forbid_unknown_fields=True):
    """A batch decoded in one pass, when every event in it is valid (the common case)."""

    events: list[Event]
    api_key: Short | None = None  # see RawEventBatch


class RawEventBatch(msgspec.Struct, forbid_unknown_fields=True):
    """A batch whose events are checked one by one, so each invalid one is reported by its index."""

    events: list[msgspec.Raw]
    # The app's key, for a sender that cannot set X-Api-Key: the web SDK's navigator.sendBeacon. In the
    # body because a URL's query string ends up in access logs; the header wins when both are sent.
    api_key: Short | None = None


class BeaconKey(msgspec.Struct):
    """Only a batch's api_key: its events are skipped unread (this struct ignores unknown fields)."""

    api_key: str = ""


class Touch(msgspec.Struct, forbid_unknown_fields=True):
    """A click or impression reported server to server by a network."""

    type: Annotated[str, msgspec.Meta(pattern=r"^(click|impression)$")]
    link_code: Short
    touch_id: uuid.UUID | None = None
    timestamp: dt.datetime | int | None = None
    network_click_id: Short | None = None
    site_id: Medium | None = None
    device_ids: DeviceIds = {}
    ip: Annotated[str, msgspec.Meta(max_length=45)] | None = None
    user_agent: Long | None = None
    consent: bool = True


class TouchBatch(msgspec.Struct, forbid_unknown_fields=True):
    touchpoints: list[msgspec.Raw]
