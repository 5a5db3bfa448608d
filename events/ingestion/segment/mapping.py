"""A Segment message as one of our events: the only place where Segment's spec meets our contract
(docs/segment.md has the whole mapping as a table, with what is dropped and why).

The result is our own ``Event``, so from here on a Segment message goes through exactly what an
event sent to /api/events goes through: the same checks of names, times and money, the same
privacy transforms, the same row and the same bus. What this module checks itself is only what our
contract would have checked while decoding an ``Event`` (msgspec checks nothing on construction):
the values taken out of free-form ``properties``.
"""

import hashlib
import uuid
from urllib.parse import parse_qs, urlsplit

import msgspec

from events.ingestion.schema import Attribution, Event
from events.ingestion.segment import spec

# The ids of an app's events are uuid5(uuid5(this, app id), messageId): a message sent again (an
# SDK's retry, a replayed batch) gets the id it had, and the consumer stores it once. Changing this
# constant would give every message sent again a new id: it never changes.
MESSAGE_ID_NAMESPACE = uuid.UUID("0573608a-a16d-4ff8-b485-406f86a9c586")
# uuid5 written out: SHA-1 of the namespace's bytes then the name, its first 16 bytes with the version
# (5) and RFC 4122 variant bits set. The namespace's SHA-1 state is made once per request and copied
# per message (as events.privacy keys BLAKE2b), and msgspec makes the UUID from its 16 bytes (a
# msgpack bin) in C: uuid.UUID()'s own checks, in Python, cost more than the hash.
_UUID5_KEEP = ~((0xF000 << 64) | (0xC000 << 48)) & (1 << 128) - 1
_UUID5_SET = (5 << 76) | (0x8000 << 48)
_UUID_BIN = b"\xc4\x10"  # msgpack: a bin of 16 bytes follows
_uuid_from_bin = msgspec.msgpack.Decoder(uuid.UUID).decode

# Spec events that are one of our standard events; every other name is kept as it is sent.
STANDARD_NAMES = {
    "Application Installed": "install",
    "Application Opened": "open",
    "Order Completed": "purchase",
    "Signed Up": "sign_up",
}
KIND_NAMES = {
    spec.Identify: "identify",
    spec.Page: "page_view",  # the name our web SDK gives a page view
    spec.Screen: "screen_view",
    spec.Alias: "alias",
    spec.Group: "group",
}
OS_NAMES = {"ios": "iOS", "android": "Android"}  # the user-agent parser's names: fingerprints match clicks'
# context.device.type and context.os.name as the SDKs spell them (others are lower-cased first).
PLATFORMS = {"ios": "ios", "android": "android", "iOS": "ios", "Android": "android", "iPhone OS": "ios"}
OS_PLATFORMS = {"android": "android", "ios": "ios", "iphone os": "ios", "ipados": "ios"}
# Per platform, the kinds of context.device.advertisingId and context.device.id.
DEVICE_ID_KINDS = {"ios": ("idfa", "idfv"), "android": ("gaid", "android_id")}
# What iOS sends as the IDFA when the user has not allowed tracking: no device's id.
ZERO_ADVERTISING_ID = "00000000-0000-0000-0000-000000000000"
SCALARS = frozenset({str, int, float, bool})
MAX_PROPERTIES = 50
CLICK_ID_PARAMETER = "ump_click_id"
NO_ATTRIBUTION = Attribution()
NO_DEVICE = spec.Device()
NO_OS = spec.OperatingSystem()


class MessageEvents:
    """Turns the messages of one request into events; ``app_id`` scopes the event ids."""

    __slots__ = ("namespace",)

    def __init__(self, *, app_id: uuid.UUID):
        self.namespace = hashlib.sha1(uuid.uuid5(MESSAGE_ID_NAMESPACE, str(app_id)).bytes, usedforsecurity=False)

    def event_id(self, message_id: str) -> uuid.UUID:
        """uuid5(uuid5(MESSAGE_ID_NAMESPACE, app id), message_id)."""
        digest = self.namespace.copy()
        digest.update(message_id.encode())
        value = int.from_bytes(digest.digest()[:16]) & _UUID5_KEEP | _UUID5_SET
        return _uuid_from_bin(_UUID_BIN + value.to_bytes(16))

    def event(self, message: spec.Message) -> Event:
        """Our event for one message; raises ValueError for a message we cannot take."""
        user_id, anonymous_id = message.user_id, message.anonymous_id
        if type(user_id) is int:
            user_id = str(user_id)
        if type(anonymous_id) is int:
            anonymous_id = str(anonymous_id)
        if not user_id and not anonymous_id:
            raise ValueError("a message needs a userId or an anonymousId")
        kind = type(message)
        if kind is spec.Track:
            name = STANDARD_NAMES.get(message.event, message.event)
            properties = message.properties
        else:
            name = KIND_NAMES[kind]
            properties = getattr(message, "properties", None) or {}
        for value in properties.values():  # most hold only flat values: the dict itself is kept
            if type(value) not in SCALARS:
                properties = {key: value for key, value in properties.items() if type(value) in SCALARS}
                break
        # Most messages hold neither URLs nor money: the checks for them are one lookup each.
        click_url = properties.get("url")
        if click_url is not None or "referrer" in properties or "search" in properties:
            _cut_query_strings(properties)
        if kind is spec.Page or kind is spec.Screen:
            if message.name:
                properties.setdefault("name", message.name)
            if message.category:
                properties.setdefault("category", message.category)
        elif kind is spec.Group and message.group_id is not None:
            properties["group_id"] = str(message.group_id)
        if len(properties) > MAX_PROPERTIES:
            raise ValueError(f"properties: at most {MAX_PROPERTIES} values (objects, arrays and nulls left out)")
        revenue = currency = None
        if "revenue" in properties or "total" in properties:
            revenue, currency = _money(properties)

        context = message.context
        platform = _platform(context)
        device = context.device or NO_DEVICE
        device_ids = {"web_id": anonymous_id} if anonymous_id else {}
        id_kinds = DEVICE_ID_KINDS.get(platform)
        if id_kinds is not None:
            advertising_id = device.advertising_id
            if advertising_id and device.ad_tracking_enabled is not False and advertising_id != ZERO_ADVERTISING_ID:
                device_ids[id_kinds[0]] = advertising_id
            if device.id:
                device_ids[id_kinds[1]] = device.id
        system = context.os or NO_OS
        location, app = context.location, context.app
        country = location.country if location is not None else None
        campaign, referrer = context.campaign, context.referrer
        click_id = None
        if referrer is not None:
            click_id = _click_id(referrer.link, referrer.url, click_url)
        elif click_url is not None:
            click_id = _click_id(click_url)
        if campaign is not None:
            attribution = Attribution(
                campaign.source, campaign.medium, campaign.name, campaign.content, campaign.term, click_id
            )
        else:
            attribution = Attribution(click_id=click_id) if click_id else NO_ATTRIBUTION
        message_id = message.message_id
        # Positional, in Event's field order, as events.ingestion.services.EventRows builds its rows:
        # keyword arguments cost msgspec about ten times as much, and this runs once per message.
        return Event(
            name,  # event_name
            self.event_id(message_id) if message_id else uuid.uuid4(),  # event_id
            message.timestamp,  # timestamp
            device_ids,  # device_ids
            user_id,  # user_id
            None,  # session_id: the spec has none
            platform,  # platform
            app.version if app is not None else None,  # app_version
            OS_NAMES.get(platform) or system.name,  # os_name
            system.version,  # os_version
            device.model,  # device_model
            context.locale,  # locale
            country if country and len(country) == 2 and country.isascii() and country.isupper() else None,  # country
            context.ip,  # ip
            context.user_agent,  # user_agent
            attribution,  # attribution
            revenue,  # revenue
            currency,  # currency
            properties,  # properties
            True,  # consent: the spec has no such flag (an untracked device sends no advertising id)
        )


def _cut_query_strings(properties: dict) -> None:
    """``url`` and ``referrer`` keep no query string or fragment, and ``search`` is dropped: a query
    string holds click ids, emails and tokens, which is why our logs drop it too. (The click id of a
    deep link is read from the ``url`` as it was sent.)"""
    for key in ("url", "referrer"):
        value = properties.get(key)
        if type(value) is str and ("?" in value or "#" in value):
            properties[key] = value.partition("?")[0].partition("#")[0]
    properties.pop("search", None)


def _money(properties: dict) -> tuple[float, str]:
    """Revenue and currency, taken out of properties that hold ``revenue`` or ``total``: ``revenue``,
    else ``total`` (Order Completed's), in ``currency`` (US dollars when absent, as Segment's spec says)."""
    key = "revenue" if "revenue" in properties else "total"
    revenue = properties.pop(key)
    if type(revenue) not in (int, float) or not 0 <= revenue < 1e12:
        raise ValueError(f"properties.{key} must be a number from 0 to 1e12, got {revenue!r}")
    currency = properties.pop("currency", "USD")
    code = currency.upper() if type(currency) is str else ""
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ValueError(f"properties.currency must be an ISO 4217 code such as USD, got {currency!r}")
    return revenue, code


def _platform(context: spec.Context) -> str | None:
    """ios or android from the device or its OS, web for analytics.js (it sends context.page); None
    when the message does not say (the user agent then decides, as for our own events)."""
    device, system = context.device, context.os
    if device is not None and device.type:
        platform = PLATFORMS.get(device.type) or PLATFORMS.get(device.type.lower())
        if platform is not None:
            return platform
    if system is not None and system.name:
        platform = PLATFORMS.get(system.name) or OS_PLATFORMS.get(system.name.lower())
        if platform is not None:
            return platform
    return "web" if context.page is not None else None


def _click_id(*texts: str | int | float | bool | None) -> str | None:
    """Our click id from the first text that carries ``ump_click_id``: a URL (a deep link, the
    referrer) or a bare query string (the Play Store's install referrer)."""
    for text in texts:
        if type(text) is str and CLICK_ID_PARAMETER in text:
            query = urlsplit(text).query if "?" in text else text
            for value in parse_qs(query).get(CLICK_ID_PARAMETER, ()):
                if len(value) <= 128:  # ours are 32 characters; a longer one is someone else's
                    return value
    return None
