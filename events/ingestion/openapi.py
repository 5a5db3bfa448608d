"""The ingestion endpoints in the OpenAPI contract. They are plain Django views (the hot path), so
``add_ingestion_endpoints`` adds them after drf-spectacular's generation, with request schemas
generated from the msgspec structs that validate them (events/ingestion/schema.py): the document
cannot say something the validator does not.
"""

import msgspec
from django.conf import settings

from core.openapi import RETRY_AFTER
from events.ingestion.schema import Event, RawEventBatch, Touch, TouchBatch
from events.ingestion.segment import openapi as segment

REF = "#/components/schemas/{name}"
NO_STORE = {"description": "Never cached: every request is a touchpoint.", "schema": {"type": "string"}}
CURL_EXAMPLE = """\
curl -X POST "$BASE_URL/api/events" \\
  -H "X-Api-Key: $UMP_KEY" -H "Content-Type: application/json" \\
  -d '{"events": [{"event_name": "install", "event_id": "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f",
       "platform": "ios", "device_ids": {"idfv": "A1B2C3D4-0000-4000-8000-000000000001"}},
       {"event_name": "purchase", "revenue": 4.99, "currency": "EUR", "properties": {"sku": "gems_100"}}]}'
# -> 202 {"accepted": 2, "rejected": [], "ids": ["6f1c2d3e-…", "…"]}
# gzip: add -H "Content-Encoding: gzip" and send the gzipped JSON with --data-binary @batch.json.gz"""
EVENT_BATCH_EXAMPLE = {
    "events": [
        {
            "event_name": "install",
            "event_id": "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f",
            "platform": "ios",
            "app_version": "2.4.0",
            "device_ids": {"idfv": "A1B2C3D4-0000-4000-8000-000000000001"},
            "attribution": {"link_code": "aB3dE5gH7j"},
        },
        {
            "event_name": "purchase",
            "user_id": "customer-42",
            "revenue": 4.99,
            "currency": "EUR",
            "properties": {"sku": "gems_100", "first_purchase": True},
        },
    ]
}
TOUCH_BATCH_EXAMPLE = {
    "touchpoints": [
        {
            "type": "click",
            "link_code": "aB3dE5gH7j",
            "network_click_id": "nw-123456",
            "device_ids": {"gaid": "38400000-8cf0-11bd-b23e-10b96e40000d"},
            "ip": "203.0.113.7",
            "user_agent": "Mozilla/5.0 (Linux; Android 14)",
        }
    ]
}
# Words for fields whose JSON Schema alone does not say enough (the constraints come from msgspec).
FIELD_NOTES = {
    ("Event", "event_id"): "Idempotency key: a retried event with the same id is stored once. Generated if absent.",
    ("Event", "timestamp"): "ISO 8601 with a UTC offset, or Unix epoch milliseconds. Absent: the time received. "
    "At most INGEST_MAX_PAST_DAYS (default 30) in the past.",
    ("Event", "user_id"): "Your user id; pseudonymised with a keyed HMAC before it is stored.",
    ("Event", "ip"): "The device's IP, for server-to-server senders (truncated before storage).",
    ("Event", "currency"): "ISO 4217 code; required when `revenue` is set.",
    ("Event", "consent"): "false: the event is kept without any identifier (user, device, IP, user agent).",
    ("RawEventBatch", "api_key"): "The app API key, only for senders that cannot set the X-Api-Key header "
    "(navigator.sendBeacon); the header wins when both are sent. Never put a key in the URL: URLs are logged.",
    ("Touch", "link_code"): "The tracking link's code (the last part of /c/<code>); must belong to the key's app.",
    ("Touch", "timestamp"): "ISO 8601 with a UTC offset, or Unix epoch milliseconds. Absent: the time received. "
    "At most INGEST_MAX_PAST_DAYS (default 30) in the past; more than INGEST_MAX_FUTURE_SECONDS (default 600) "
    "ahead: the time received.",
}


def _ingestion_components() -> dict:
    """JSON Schemas of the request bodies, from the msgspec structs that validate them. A batch is
    decoded first with its items left raw, then each item on its own (so a bad one is reported by
    index): the document shows the items as what each is checked against."""
    _, components = msgspec.json.schema_components((RawEventBatch, TouchBatch, Event, Touch), ref_template=REF)
    for (struct, field), note in FIELD_NOTES.items():
        components[struct]["properties"][field]["description"] = note
    limit = settings.INGEST_MAX_EVENTS_PER_BATCH
    for batch, field, item in (("RawEventBatch", "events", "Event"), ("TouchBatch", "touchpoints", "Touch")):
        components[batch]["properties"][field].update(
            {"items": {"$ref": REF.format(name=item)}, "minItems": 1, "maxItems": limit}
        )
    components["EventBatch"] = components.pop("RawEventBatch")
    components["EventBatch"]["title"] = "EventBatch"
    components["IngestResult"] = {
        "type": "object",
        "properties": {
            "accepted": {"type": "integer", "minimum": 0, "description": "How many items were accepted."},
            "rejected": {
                "type": "array",
                "description": "Each refused item: its index in the request and why.",
                "items": {
                    "type": "object",
                    "properties": {"index": {"type": "integer", "minimum": 0}, "reason": {"type": "string"}},
                    "required": ["index", "reason"],
                    "additionalProperties": False,
                },
            },
            "ids": {
                "type": "array",
                "items": {"type": "string", "format": "uuid"},
                "description": "The ids of the accepted items (event_id / touch_id), in request order.",
            },
        },
        "required": ["accepted", "rejected", "ids"],
        "additionalProperties": False,
    }
    components["SegmentResult"] = {
        **components["IngestResult"],
        "properties": {
            "success": {"const": True, "description": "As Segment answers: the request was taken."},
            **components["IngestResult"]["properties"],
        },
        "required": ["success", *components["IngestResult"]["required"]],
    }
    components.update(segment.components())
    components["IngestError"] = {
        "type": "object",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
        "additionalProperties": False,
    }
    return components


def _error(description: str, **headers) -> dict:
    response = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF.format(name="IngestError")}}},
    }
    if headers:
        response["headers"] = headers
    return response


def batch_operation(
    *,
    operation_id: str,
    summary: str,
    description: str,
    body: str,
    example: dict | None,
    security: str = "apiKeyHeader",
    accepted: tuple[str, str] = ("202", "IngestResult"),
    tag: str = "ingestion",
) -> dict:
    """An ingestion endpoint's operation: ``accepted`` is the answer's status and schema once durable."""
    limit = settings.INGEST_MAX_EVENTS_PER_BATCH
    status, result = accepted
    return {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "description": description,
        "security": [{security: []}],
        "parameters": [
            {
                "name": "X-Ump-Timestamp",
                "in": "header",
                "description": "Unix seconds when signing; within 300 s of the server's clock.",
                "schema": {"type": "string", "pattern": "^[0-9]+$"},
            },
            {
                "name": "X-Ump-Signature",
                "in": "header",
                "description": 'hex(HMAC-SHA256(app signing secret, "<X-Ump-Timestamp>." + body as sent)). '
                "Required when the app's signing policy is `required`; checked when present and `optional`.",
                "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
            },
            {
                "name": "Content-Encoding",
                "in": "header",
                "description": f"gzip: the body is gzipped (at most {settings.INGEST_MAX_DECOMPRESSED_BYTES} bytes "
                "once inflated). The signature covers the body as sent.",
                "schema": {"type": "string", "enum": ["gzip", "identity"]},
            },
        ],
        "requestBody": {
            "required": True,
            "description": f"At most {limit} items and {settings.INGEST_MAX_BODY_BYTES} bytes per request.",
            "content": {
                "application/json": {
                    "schema": {"$ref": REF.format(name=body)},
                    **({"examples": {"batch": {"summary": "An example", "value": example}}} if example else {}),
                }
            },
        },
        "responses": {
            status: {
                "description": "Durably accepted (the good items; bad ones are listed by index in `rejected`).",
                "content": {"application/json": {"schema": {"$ref": REF.format(name=result)}}},
            },
            "400": _error("The body is not JSON of this shape, or has no items, or is not valid gzip."),
            "401": _error("Unknown, revoked or missing API key; or a missing, stale or wrong signature."),
            "409": _error("This signed request was already received (replay)."),
            "413": _error(f"Body too large, or more than {limit} items."),
            "429": _error("Rate limit for this API key exceeded.", **{"Retry-After": RETRY_AFTER}),
            "503": _error("Could not store durably right now; nothing was accepted.", **{"Retry-After": RETRY_AFTER}),
        },
    }


def _touch_operation(*, operation_id: str, summary: str, description: str, success: dict) -> dict:
    return {
        "operationId": operation_id,
        "tags": ["ingestion"],
        "summary": summary,
        "description": description,
        "security": [{}],
        "parameters": [
            {
                "name": "code",
                "in": "path",
                "required": True,
                "description": "The tracking link's code.",
                "schema": {"type": "string"},
            },
            *(
                {"name": name, "in": "query", "description": meaning, "schema": {"type": "string"}}
                for name, meaning in (
                    ("click_id", "The network's click id (its macro, e.g. {click_id})."),
                    ("site_id", "Publisher / placement id."),
                    ("idfa", "iOS advertising id, if the network passes it."),
                    ("gaid", "Android advertising id, if the network passes it."),
                )
            ),
        ],
        "responses": {
            **success,
            "404": {
                "description": "Unknown or archived link (or a click on a link with no destination).",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
        },
    }


def preflight_operation(*, operation_id: str, tag: str = "ingestion") -> dict:
    return {
        "operationId": operation_id,
        "tags": [tag],
        "summary": "CORS preflight for browser SDKs (any origin; no cookies are used)",
        "security": [{}],
        "responses": {
            "204": {
                "description": "Allowed methods and headers.",
                "headers": {
                    name: {"schema": {"type": "string"}}
                    for name in ("Access-Control-Allow-Origin", "Access-Control-Allow-Headers")
                },
            }
        },
    }


def segment_paths() -> dict:
    """Segment's tracking API: the same ingestion, its own decoder, answers and way of giving the key."""
    paths = {}
    for endpoint in segment.operations():
        operation_id = endpoint["operation_id"]
        post = batch_operation(
            operation_id=operation_id,
            summary=endpoint["summary"],
            description=endpoint["description"],
            body=endpoint["body"],
            example=endpoint["example"],
            security="segmentWriteKey",
            accepted=("200", "SegmentResult"),
            tag="segment",
        )
        post["responses"]["401"] = _error(
            "Unknown, revoked or missing write key; or the app requires signed requests, which Segment's SDKs "
            "do not send."
        )
        options = preflight_operation(operation_id=f"{operation_id}_preflight", tag="segment")
        paths[endpoint["path"]] = {"post": post, "options": options}
    paths["/v1/projects/{write_key}/settings"] = {"get": segment.SETTINGS}
    return paths


def ingestion_paths() -> dict:
    events = batch_operation(
        operation_id="ingest_events",
        summary="Send SDK events (a batch; one event is a batch of one)",
        description="Each event is validated on its own: the good ones are accepted, each bad one is "
        "reported by its index. A 2xx means the accepted events are durable.\n\n```sh\n" + CURL_EXAMPLE + "\n```",
        body="EventBatch",
        example=EVENT_BATCH_EXAMPLE,
    )
    touchpoints = batch_operation(
        operation_id="ingest_touchpoints",
        summary="Report clicks and impressions server to server (ad networks)",
        description="Each touchpoint is validated on its own, like events; `link_code` must be one of the "
        "key's app's links.",
        body="TouchBatch",
        example=TOUCH_BATCH_EXAMPLE,
    )
    preflight = preflight_operation(operation_id="ingest_events_preflight")
    click = _touch_operation(
        operation_id="track_click",
        summary="Ad click: records a touchpoint and redirects to the store or web destination",
        description="Put the link's click URL in the ad. The destination depends on the visitor's platform.",
        success={
            "302": {
                "description": "Redirect to the destination (the click is recorded before).",
                "headers": {
                    "Location": {"schema": {"type": "string", "format": "uri"}, "required": True},
                    "Cache-Control": NO_STORE,
                },
            }
        },
    )
    impression = _touch_operation(
        operation_id="track_impression",
        summary="Ad view: records a touchpoint and answers a 1x1 transparent GIF",
        description="Put the link's impression URL in the ad as a pixel.",
        success={
            "200": {
                "description": "A 1x1 transparent GIF.",
                "headers": {"Cache-Control": NO_STORE},
                "content": {"image/gif": {"schema": {"type": "string", "contentMediaType": "image/gif"}}},
            }
        },
    )
    return {
        "/api/events": {"post": events, "options": preflight},
        "/api/touchpoints": {"post": touchpoints},
        "/c/{code}": {"get": click},
        "/i/{code}": {"get": impression},
        **segment_paths(),
    }


def add_ingestion_endpoints(result, generator, request, public):
    """drf-spectacular postprocessing hook: the plain-Django ingestion endpoints and their schemas."""
    components = result.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, schema in _ingestion_components().items():
        if name in schemas:
            raise ValueError(f"OpenAPI component {name!r} is defined by both a DRF serializer and events/schema.py.")
        schemas[name] = schema
    components.setdefault("securitySchemes", {}).update(
        {
            "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Api-Key", "description": "An app API key."},
            "segmentWriteKey": {
                "type": "http",
                "scheme": "basic",
                "description": "An app API key as the user name and no password: how Segment's SDKs send a "
                "write key (or as the body's `writeKey`).",
            },
        }
    )
    result["paths"] = {**ingestion_paths(), **result["paths"]}
    result.setdefault("tags", []).extend(
        [
            {"name": "ingestion", "description": "The hot path: SDK events, network touchpoints, click and view URLs."},
            {
                "name": "segment",
                "description": "Segment's tracking API, so that every Segment SDK (analytics.js, analytics-swift, "
                "analytics-kotlin, the server libraries) sends to UnMoGrowP: the same ingestion as /api/events.",
            },
        ]
    )
    return result
