"""The Segment tracking spec, as far as we read it: msgspec structs for its six message types.

Only the fields the mapping (``mapping.py``) uses are declared; msgspec skips every other field of
a message unread and unchecked (``integrations``, ``context.library``, ``context.traits``, ``sentAt``,
``_metadata`` and whatever a newer SDK adds), so what we do not store cannot reject a message. What
we do store is bounded as our own contract bounds it (events.ingestion.schema): a value too long
for us rejects its message by index, with the path in the reason.

A batch is ``{"batch": [message, ...], "writeKey": "..."}``; each message names its kind in
``type``. The single-message endpoints (/v1/track, ...) take one message whose ``type`` may be left
out. Field names are Segment's (camelCase on the wire, ``rename="camel"``).
"""

import datetime as dt
from typing import Annotated

import msgspec

from events.ingestion.schema import Long, Medium, Name, Short

PropertyKey = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
# Objects and arrays are taken so that the message is not refused for them; the mapping drops them.
PropertyValue = Annotated[str, msgspec.Meta(max_length=1024)] | int | float | bool | None | list | dict
Properties = dict[PropertyKey, PropertyValue]
# Segment allows a number as an id (analytics-python turns it into text, other senders may not).
UserId = Medium | int | None
AnonymousId = Short | int | None


# gc=False: see events.rows (no reference cycle is possible; hundreds are decoded per request).
# The context's structs are frozen: an absent context is one shared empty Context.
class Campaign(msgspec.Struct, rename="camel", frozen=True, gc=False):
    name: Medium | None = None
    source: Medium | None = None
    medium: Medium | None = None
    term: Medium | None = None
    content: Medium | None = None


class Device(msgspec.Struct, rename="camel", frozen=True, gc=False):
    id: Short | None = None
    advertising_id: Short | None = None
    ad_tracking_enabled: bool | None = None
    model: Short | None = None
    type: Short | None = None


class OperatingSystem(msgspec.Struct, rename="camel", frozen=True, gc=False):
    name: Short | None = None
    version: Short | None = None


class App(msgspec.Struct, rename="camel", frozen=True, gc=False):
    version: Short | None = None


class Referrer(msgspec.Struct, rename="camel", frozen=True, gc=False):
    url: Long | None = None
    link: Long | None = None


class Location(msgspec.Struct, rename="camel", frozen=True, gc=False):
    country: Short | None = None


class PageContext(msgspec.Struct, frozen=True, gc=False):
    """Only whether a message has ``context.page``: analytics.js sends it with every message."""


class Context(msgspec.Struct, rename="camel", frozen=True, gc=False):
    app: App | None = None
    campaign: Campaign | None = None
    device: Device | None = None
    ip: Annotated[str, msgspec.Meta(max_length=45)] | None = None
    locale: Annotated[str, msgspec.Meta(max_length=35)] | None = None
    location: Location | None = None
    os: OperatingSystem | None = None
    page: PageContext | None = None
    referrer: Referrer | None = None
    user_agent: Long | None = None


NO_CONTEXT = Context()


class Message(msgspec.Struct, rename="camel", tag_field="type", gc=False):
    message_id: Medium | None = None
    anonymous_id: AnonymousId = None
    user_id: UserId = None
    timestamp: dt.datetime | None = None
    context: Context = NO_CONTEXT
    # The app's key in the body, for senders that set no Authorization header (analytics-kotlin);
    # a batch's own writeKey is read, never a message's inside a batch.
    write_key: Short | None = None


class Track(Message, tag="track", kw_only=True):
    event: Name
    properties: Properties = {}


class Identify(Message, tag="identify"):
    """Traits are not read: they are a profile (name, email, address), which we do not keep."""


class Page(Message, tag="page"):
    name: Medium | None = None
    category: Medium | None = None
    properties: Properties = {}


class Screen(Message, tag="screen"):
    name: Medium | None = None
    category: Medium | None = None
    properties: Properties = {}


class Alias(Message, tag="alias"):
    """previousId is not read: we keep no identity graph to merge it into."""


class Group(Message, tag="group"):
    group_id: Medium | int | None = None


AnyMessage = Track | Identify | Page | Screen | Alias | Group
# The one-letter paths analytics.js and the mobile SDKs post to (/v1/b for a batch), beside the
# HTTP API's long ones (/v1/batch).
SHORT_PATHS = {"batch": "b", "track": "t", "identify": "i", "page": "p", "screen": "s", "alias": "a", "group": "g"}
MESSAGE_TYPES: dict[str, type[Message]] = {
    kind.__struct_config__.tag: kind for kind in (Track, Identify, Page, Screen, Alias, Group)
}


class Batch(msgspec.Struct, rename="camel"):
    """A batch decoded in one pass, when every message in it is valid (the common case)."""

    batch: list[AnyMessage]
    write_key: Short | None = None


class RawBatch(msgspec.Struct, rename="camel"):
    """A batch whose messages are checked one by one, so each invalid one is reported by its index."""

    batch: list[msgspec.Raw]
    write_key: Short | None = None


class BodyKey(msgspec.Struct, rename="camel"):
    """Only the body's writeKey (of a batch or of one message): everything else is skipped unread."""

    write_key: str = ""


class ApiSettings(msgspec.Struct, rename="camel"):
    """Where the SDK sends its messages: ``{protocol}://{api_host}/b`` (and /t, /i, ...)."""

    api_key: str
    api_host: str
    protocol: str


class Settings(msgspec.Struct, rename="camel"):
    """The settings Segment's SDKs fetch when they start (GET /v1/projects/<write key>/settings, from
    their CDN host): this instance's own /v1 as the Segment destination, and no other destination."""

    integrations: dict[str, ApiSettings]
    plan: dict = {}
    edge_function: dict = {}
