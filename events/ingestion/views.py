"""The ingestion hot path: plain Django views, msgspec, no DRF, no ORM query beyond cached lookups.

POST /api/events        SDK events (X-Api-Key; optional HMAC signature)       -> 202 + per-event result
POST /api/touchpoints   server-to-server clicks and impressions from networks -> 202 + per-touch result
POST /v1/batch, /v1/track, ...  Segment's tracking API (any Segment SDK; HTTP Basic write key)
                        -> 200 + per-message result, through the same service as /api/events
GET  /c/<code>          click: records a touchpoint, 302 to the store or web destination
GET  /i/<code>          impression: records a touchpoint, 1x1 GIF
"""

import base64
import binascii
import datetime as dt
import functools
import gzip
import hashlib
import hmac
import logging
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import msgspec
from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseNotFound, HttpResponseRedirect
from django.views.decorators.csrf import csrf_exempt

from apps_registry import keys, links
from apps_registry.models import App
from core import counters
from core.metrics import EVENTS_RESULT, GUARD_UNAVAILABLE, INGEST_REFUSED, TOUCHES
from core.net import client_ip, user_agent
from events.bus import BusUnavailable, Message, publish, topics
from events.ingestion import services as ingest
from events.ingestion.schema import BeaconKey, Touch, TouchBatch
from events.ingestion.segment import decoder as segment
from events.ingestion.segment.spec import ApiSettings, Settings
from events.ingestion.touchpoints import destination, touch_row
from events.rows import bus_key
from events.subjects import blocklist

logger = logging.getLogger(__name__)
_json = msgspec.json.Encoder()
# Bound once: labels() looks the child up under a lock, on the hot path that costs more than counting.
EVENTS_ACCEPTED = EVENTS_RESULT.labels("accepted", "")
EVENTS_REJECTED = EVENTS_RESULT.labels("rejected", "invalid")
EVENTS_OPTED_OUT = EVENTS_RESULT.labels("dropped", "opted_out")
# Why a whole request was refused, by its status.
REFUSED = {
    status: INGEST_REFUSED.labels(reason)
    for status, reason in {
        400: "unreadable",
        401: "unauthenticated",
        404: "unknown",
        405: "method",
        409: "replay",
        413: "too_large",
        429: "rate_limited",
        500: "error",
        503: "bus_unavailable",
    }.items()
}
TOUCHES_RECORDED = {touch_type: TOUCHES.labels(touch_type, "recorded") for touch_type in ("click", "impression")}
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
    b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
RETRY_AFTER_SECONDS = 5


def _error(status: int, message: str, **headers) -> HttpResponse:
    REFUSED[status].inc()
    response = HttpResponse(_json.encode({"error": message}), status=status, content_type="application/json")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def ingestion_view(*methods: str):
    """An ingestion endpoint answers JSON errors whatever DEBUG says, never Django's debug page: a
    method it does not take is a 405, and an exception no input should cause is logged with its
    traceback and answered 500 (every known malformed input is a 4xx before that)."""
    allowed = ", ".join(methods)

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                return _error(405, f"Method not allowed: use {allowed}.", Allow=allowed)
            try:
                return view(request, *args, **kwargs)
            except Exception:
                logger.exception("%s %s failed", request.method, request.path)
                return _error(500, "Internal server error.")

        return wrapper

    return decorate


# Headers are read from request.META: request.headers copies every header into a new mapping on
# first use, which cost more than the API key check it was for.


def _raw_body(request) -> bytes:
    """The request body as sent, within INGEST_MAX_BODY_BYTES (raises ingest.BadRequest)."""
    meta, limit = request.META, settings.INGEST_MAX_BODY_BYTES
    length = int(meta.get("CONTENT_LENGTH") or 0)
    if length > limit:
        raise ingest.BadRequest(f"Body larger than {limit} bytes.", status=413)
    if length or not meta.get("wsgi.input_terminated"):
        return request.body
    # No Content-Length: a chunked body (analytics-kotlin streams its batches so). Django reads no
    # body without a length; a server that takes the chunks apart (gunicorn) says so with
    # wsgi.input_terminated, and its input then ends where the body does.
    raw = meta["wsgi.input"].read(limit + 1)
    if len(raw) > limit:
        raise ingest.BadRequest(f"Body larger than {limit} bytes.", status=413)
    return raw


def _inflated(request, raw: bytes) -> bytes:
    """The body gunzipped if sent so, within INGEST_MAX_DECOMPRESSED_BYTES (raises ingest.BadRequest)."""
    if request.META.get("HTTP_CONTENT_ENCODING", "").lower() != "gzip":
        return raw
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        inflated = inflater.decompress(raw, settings.INGEST_MAX_DECOMPRESSED_BYTES)
        if inflater.unconsumed_tail:
            raise ingest.BadRequest(
                f"Decompressed body larger than {settings.INGEST_MAX_DECOMPRESSED_BYTES} bytes.", status=413
            )
    except (zlib.error, gzip.BadGzipFile):
        raise ingest.BadRequest("Content-Encoding is gzip but the body is not valid gzip.") from None
    return inflated


def _check_signature(request, principal: keys.ApiKeyPrincipal, body: bytes, unsigned: str) -> str | None:
    """None when acceptable, else the reason (``unsigned`` when the app requires a signature and
    none came). The signature is
    hex(HMAC-SHA256(app signing secret, f"{X-Ump-Timestamp}.".encode() + body as sent))."""
    signature = request.META.get("HTTP_X_UMP_SIGNATURE", "")
    if principal.signing_policy == App.SigningPolicy.OFF or (
        principal.signing_policy == App.SigningPolicy.OPTIONAL and not signature
    ):
        return None
    timestamp = request.META.get("HTTP_X_UMP_TIMESTAMP", "")
    if not signature or not timestamp:
        return unsigned
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > settings.INGEST_SIGNATURE_TOLERANCE_SECONDS:
        return "X-Ump-Timestamp is missing, malformed or more than 300 seconds off."
    secret = keys.signing_secret(app_id=principal.app_id, version=principal.signing_secret_version)
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        return "X-Ump-Signature does not match."
    return None


_beacon_key = msgspec.json.Decoder(BeaconKey)


def _key_in_body(body: bytes) -> str:
    try:
        return _beacon_key.decode(body).api_key
    except ingest.UNREADABLE:
        return ""  # no key to be found: refused like any request without one


def _replay_mark(request) -> str | None:
    signature = request.META.get("HTTP_X_UMP_SIGNATURE", "")
    return f"ingest:sig:{signature.lower()}" if signature else None


def _guard(request, principal, body: bytes, unsigned: str) -> HttpResponse | None:
    """Signature, replay and rate limit, in one cache round trip. Without the cache (Redis down) the
    replay and rate checks are skipped rather than refusing data: logged and counted."""
    reason = _check_signature(request, principal, body, unsigned)
    if reason:
        return _error(401, reason)
    mark = _replay_mark(request)
    marks = [(mark, 2 * settings.INGEST_SIGNATURE_TOLERANCE_SECONDS)] if mark else []
    try:
        (count,), fresh = counters.hit([(f"ingest:rate:{principal.key_id}:{int(time.time() // 60)}", 65)], marks)
    except Exception as error:
        GUARD_UNAVAILABLE.inc()
        logger.error("ingestion guard unavailable (cache), accepting without replay/rate checks: %s", error)
        return None
    if marks and not fresh[0]:
        return _error(409, "This signed request was already received (replay).")
    if count > settings.INGEST_RATE_LIMIT_PER_KEY:
        return _error(429, "Rate limit for this API key exceeded.", Retry_After=str(60 - int(time.time()) % 60))
    return None


@dataclass(frozen=True)
class Door:
    """A way in: how its senders give the key when they set no header, and what they are answered."""

    key_in_body: Callable[[bytes], str] | None  # a sender without the header may carry the key in the body
    missing_key: str  # the 401 when no key checks out
    unsigned: str  # the 401 when the app requires signed requests and this one is not
    status: int = 202  # the answer once the accepted items are durable
    answer: dict = field(default_factory=dict)  # fields every such answer carries besides the result


UNSIGNED = "This app requires signed requests (X-Ump-Timestamp and X-Ump-Signature)."
TOUCHPOINTS_DOOR = Door(key_in_body=None, missing_key="Unknown, revoked or missing X-Api-Key.", unsigned=UNSIGNED)
# The web SDK's beacons carry the key as the batch's api_key: navigator.sendBeacon cannot set headers.
# Never in the URL: query strings are logged.
EVENTS_DOOR = Door(key_in_body=_key_in_body, missing_key=TOUCHPOINTS_DOOR.missing_key, unsigned=UNSIGNED)
# Segment's SDKs send the key as a write key: the user name of HTTP Basic, or the body's writeKey
# (analytics-kotlin). They treat any 2xx as delivered; Segment answers 200 {"success": true}.
SEGMENT_DOOR = Door(
    key_in_body=segment.key_in_body,
    missing_key="Unknown, revoked or missing write key (the app's API key as the HTTP Basic user name, "
    "or the body's writeKey).",
    unsigned=f"{UNSIGNED[:-1]}, which Segment's SDKs do not send: set the app's signing policy to "
    "optional or off to take their requests.",
    status=200,
    answer={"success": True},
)


def _ingest(request, handler, *, raw_key: str | None, door: Door) -> HttpResponse:
    """Authenticate ``raw_key`` (the header's; None when the header is absent), check the request,
    hand the body to ``handler(principal, body) -> (accepted ids, rejections)`` and answer."""
    try:
        raw, body = None, None
        if raw_key is None and door.key_in_body is not None:
            raw = _raw_body(request)
            body = _inflated(request, raw)
            raw_key = door.key_in_body(body)
        principal = keys.authenticate_api_key(raw_key or "")
        if principal is None:
            return _error(401, door.missing_key)
        if raw is None:
            raw = _raw_body(request)
            body = _inflated(request, raw)
        refused = _guard(request, principal, raw, door.unsigned)
        if refused:
            return refused
        accepted, rejected = handler(principal, body)
    except ingest.BadRequest as error:
        return _error(error.status, str(error))
    except BusUnavailable as error:
        logger.error("ingestion refused, bus unavailable: %s", error)
        if mark := _replay_mark(request):
            cache.delete(mark)  # nothing was accepted: the client's retry of this request must not be a "replay"
        return _error(503, "Temporarily unable to store events; retry later.", Retry_After=str(RETRY_AFTER_SECONDS))
    answer = {**door.answer, "accepted": len(accepted), "rejected": rejected, "ids": accepted}
    return HttpResponse(_json.encode(answer), status=door.status, content_type="application/json")


def _stored(request, principal: keys.ApiKeyPrincipal, events: ingest.Decoded) -> tuple[list, list]:
    """The one ingestion service, whichever decoder read the batch: (accepted ids, rejections)."""
    outcome = ingest.ingest_events(
        principal=principal,
        events=events,
        ip=client_ip(request),
        user_agent=user_agent(request),
        request_id=request.request_id,
    )
    EVENTS_ACCEPTED.inc(len(outcome.accepted))
    EVENTS_REJECTED.inc(len(outcome.rejected) - outcome.opted_out)
    EVENTS_OPTED_OUT.inc(outcome.opted_out)
    return outcome.accepted, outcome.rejected


CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Content-Encoding, X-Api-Key, X-Ump-Timestamp, X-Ump-Signature",
    "Access-Control-Max-Age": "86400",
}
# analytics.js sends its write key as HTTP Basic and counts its retries in X-Retry-Count.
SEGMENT_CORS_HEADERS = {
    **CORS_HEADERS,
    "Access-Control-Allow-Headers": "Content-Type, Content-Encoding, Authorization, X-Retry-Count",
}


def cross_origin(headers: dict[str, str]):
    """Browsers post from the customer's site: answer the CORS preflight and mark every answer with
    ``headers``. No cookies are involved (the API key authenticates), so any origin may send."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            response = HttpResponse(status=204) if request.method == "OPTIONS" else view(request, *args, **kwargs)
            for name, value in headers.items():
                response[name] = value
            return response

        return wrapper

    return decorate


@csrf_exempt
@cross_origin(CORS_HEADERS)
@ingestion_view("POST")
def events(request):
    def handle(principal, body):
        return _stored(request, principal, ingest.decode_events(body))

    return _ingest(request, handle, raw_key=request.META.get("HTTP_X_API_KEY"), door=EVENTS_DOOR)


def _basic_user(request) -> str | None:
    """The user name of an HTTP Basic Authorization header: None without one, "" for one unreadable."""
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(credentials.strip(), validate=True).decode().partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return ""


@csrf_exempt
@cross_origin(SEGMENT_CORS_HEADERS)
@ingestion_view("POST")
def segment_messages(request, kind: str):
    """``kind``: batch, or the type of the one message (track, identify, page, screen, alias, group)."""

    def handle(principal, body):
        if kind == "batch":
            decoded = segment.decode_batch(body, app_id=principal.app_id)
        else:
            decoded = segment.decode_message(body, kind=kind, app_id=principal.app_id)
        return _stored(request, principal, decoded)

    return _ingest(request, handle, raw_key=_basic_user(request), door=SEGMENT_DOOR)


@cross_origin({"Access-Control-Allow-Origin": "*"})
@ingestion_view("GET")
def segment_settings(request, write_key: str):
    """What a Segment SDK pointed at this host for its settings (analytics.js's cdnURL, the mobile
    SDKs' cdnHost) fetches when it starts: send to this instance's /v1. Served here, the SDKs never
    ask Segment's CDN about our keys, whose settings would send their messages to Segment."""
    if keys.authenticate_api_key(write_key) is None:
        return _error(404, "Unknown, revoked or missing write key.")
    public = urlsplit(settings.PUBLIC_BASE_URL)
    api = ApiSettings(api_key=write_key, api_host=f"{public.netloc}{public.path}/v1", protocol=public.scheme)
    return HttpResponse(_json.encode(Settings(integrations={"Segment.io": api})), content_type="application/json")


_touch_batch = msgspec.json.Decoder(TouchBatch)
_touch = msgspec.json.Decoder(Touch)


@csrf_exempt
@ingestion_view("POST")
def touchpoints_s2s(request):
    def handle(principal, body):
        try:
            batch = _touch_batch.decode(body)
        except ingest.UNREADABLE as error:
            raise ingest.unreadable(body, error, '{"touchpoints": [...]}') from None
        if len(batch.touchpoints) > settings.INGEST_MAX_EVENTS_PER_BATCH:
            raise ingest.BadRequest(f"At most {settings.INGEST_MAX_EVENTS_PER_BATCH} touchpoints per request.", 413)
        received_at = dt.datetime.now(dt.UTC)
        bounds = ingest.TimeBounds(received_at)
        accepted, rejected, rows = [], [], []
        for index, raw in enumerate(batch.touchpoints):
            try:
                touch = _touch.decode(raw)
                link = links.link_by_code(touch.link_code)
                if link is None or link.app_id != principal.app_id:
                    raise ValueError("unknown link_code for this app")
                timestamp = bounds.place(touch.timestamp)
                params = {"click_id": touch.network_click_id or "", "site_id": touch.site_id or ""}
                params.update({kind: value for kind, value in touch.device_ids.items() if value})
                row = touch_row(
                    link=link,
                    touch_type=touch.type,
                    params=params,
                    ip=touch.ip,
                    user_agent=touch.user_agent or "",
                    timestamp=timestamp,
                    received_at=received_at,
                    origin="s2s",
                    touch_id=touch.touch_id,
                    consent=touch.consent,
                    request_id=request.request_id,
                )
            except UnicodeDecodeError as error:  # as for events: the whole body is refused, naming the byte
                raise ingest.unreadable(body, error, '{"touchpoints": [...]}') from None
            except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as error:
                rejected.append({"index": index, "reason": str(error)})
                continue
            if blocklist.blocked(principal.app_id).refuses(row):
                TOUCHES.labels(row.touch_type, "opted_out").inc()
                rejected.append({"index": index, "reason": "the subject opted out: the touchpoint is not stored"})
                continue
            accepted.append(row.touch_id)
            rows.append(row)
        if rows:
            lines = _json.encode_lines(rows)[:-1]  # one JSON line per row; no newline after the last
            publish(topics.TOUCHPOINTS, [Message(key=bus_key(rows[0]), value=lines)])
        return accepted, rejected

    return _ingest(request, handle, raw_key=request.META.get("HTTP_X_API_KEY"), door=TOUCHPOINTS_DOOR)


def _record_touch(request, code: str, touch_type: str) -> tuple:
    link = links.link_by_code(code)
    if link is None:
        return None, None
    now = dt.datetime.now(dt.UTC)
    click_id = uuid.uuid4()
    row = touch_row(
        link=link,
        touch_type=touch_type,
        params=request.GET.dict(),
        ip=client_ip(request),
        user_agent=user_agent(request),
        timestamp=now,
        received_at=now,
        origin="redirect",
        touch_id=click_id,
        request_id=request.request_id,
    )
    blocked = blocklist.blocked(link.app_id)
    if blocked and blocked.refuses(row):
        TOUCHES.labels(touch_type, "opted_out").inc()  # the visitor still goes where the link leads
        return link, click_id.hex
    try:
        publish(topics.TOUCHPOINTS, [Message(key=bus_key(row), value=_json.encode(row))])
        TOUCHES_RECORDED[touch_type].inc()
    except BusUnavailable as error:
        # The visitor still reaches the store: a click is not an acknowledgement to anyone.
        TOUCHES.labels(touch_type, "lost").inc()
        logger.error("%s on %s not recorded, bus unavailable: %s", touch_type, code, error)
    return link, click_id.hex


@ingestion_view("GET")
def click(request, code: str):
    link, click_id = _record_touch(request, code, "click")
    if link is None:
        return HttpResponseNotFound("Unknown link.", content_type="text/plain")
    target = destination(link, user_agent(request), click_id)
    if target is None:
        return HttpResponseNotFound("This link has no destination.", content_type="text/plain")
    response = HttpResponseRedirect(target)
    response["Cache-Control"] = "no-store"
    return response


@ingestion_view("GET")
def impression(request, code: str):
    link, _ = _record_touch(request, code, "impression")
    if link is None:
        return HttpResponseNotFound("Unknown link.", content_type="text/plain")
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store"
    return response
