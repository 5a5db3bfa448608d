"""The Segment endpoints' part of the OpenAPI document: their request schemas, generated from the
msgspec structs that decode them (spec.py), so the document cannot say what the decoder does not;
events.ingestion.openapi builds the operations around them, as it does for /api/events."""

import msgspec
from django.conf import settings

from events.ingestion.segment import spec

PREFIX = "Segment"  # component names: SegmentTrack, SegmentContext, ...
REF = "#/components/schemas/{name}"
MAPPING = "docs/segment.md has the whole mapping to our events."
# Words for fields whose JSON Schema alone does not say enough (the constraints come from msgspec).
FIELD_NOTES = {
    ("Batch", "writeKey"): "The app's API key, for senders that set no Authorization header "
    "(analytics-kotlin); the header wins when both are sent. Never put a key in the URL: URLs are logged.",
    ("Track", "messageId"): "Idempotency key: the stored event's id is derived from the app and this id, so a "
    "message sent again is stored once. Generated if absent.",
    ("Track", "anonymousId"): "The SDK's own id of the install or browser: stored (pseudonymised) as device id "
    "`web_id`. A message needs a userId or an anonymousId.",
    ("Track", "userId"): "Your user id; pseudonymised with a keyed hash before it is stored.",
    ("Track", "timestamp"): "ISO 8601 with a UTC offset. Absent: the time received. At most INGEST_MAX_PAST_DAYS "
    "(default 30) in the past; more than INGEST_MAX_FUTURE_SECONDS (default 600) ahead: the time received.",
    ("Track", "writeKey"): "The app's API key, for a single message sent without an Authorization header.",
    ("Track", "event"): "Our event name: Application Installed -> install, Application Opened -> open, Order "
    "Completed -> purchase, Signed Up -> sign_up; any other name is kept as it is.",
    ("Track", "properties"): "Text, numbers and booleans are kept (at most 50); objects, arrays and nulls are left "
    "out. `revenue` (else `total`) and `currency` (default USD) become the event's revenue.",
    ("Context", "device"): "`advertisingId` is the IDFA (iOS) or GAID (Android), left out when "
    "`adTrackingEnabled` is false or it is all zeros; `id` is the IDFV or Android id. The platform comes from "
    "`type` (ios, android) or `os.name`.",
    ("Context", "campaign"): "Stored as the event's attribution (source, medium, campaign, content, term).",
    ("Context", "referrer"): "Our click id (`ump_click_id`) is read from `link` or `url`: a URL, or the Play "
    "Store's install referrer as it is (a query string).",
    ("Context", "ip"): "The device's IP, for server-side senders (truncated before storage).",
}
SHARED_FIELDS = ("messageId", "anonymousId", "userId", "timestamp", "writeKey")


def components() -> dict:
    """The request schemas of the /v1/ endpoints, and the answer of a durable acceptance."""
    _, generated = msgspec.json.schema_components(
        (spec.Batch, *spec.MESSAGE_TYPES.values(), spec.Settings), ref_template=REF.format(name=PREFIX + "{name}")
    )
    for (struct, field), note in FIELD_NOTES.items():
        generated[struct]["properties"][field]["description"] = note
    for kind in spec.MESSAGE_TYPES.values():
        properties = generated[kind.__name__]["properties"]
        properties["context"].pop("default")  # every field of it absent: not worth spelling out
        for field in SHARED_FIELDS:
            properties[field].setdefault("description", generated["Track"]["properties"][field]["description"])
    batch = generated["Batch"]
    batch["description"] = (
        "Messages of any type, each checked on its own: a bad one is reported by its index and the rest "
        f"are kept. {MAPPING}"
    )
    batch["properties"]["batch"].update({"minItems": 1, "maxItems": settings.INGEST_MAX_EVENTS_PER_BATCH})
    for kind, struct in spec.MESSAGE_TYPES.items():
        generated[struct.__name__]["description"] = (
            f"A {kind} message of Segment's tracking spec, as far as we read it: other fields are ignored. {MAPPING}"
        )
    for schema in generated.values():  # a struct's docstring, as one paragraph
        if "description" in schema:
            schema["description"] = " ".join(schema["description"].split())
    return {PREFIX + name: schema for name, schema in generated.items()}


EXAMPLE = {
    "batch": [
        {
            "type": "track",
            "event": "Application Installed",
            "messageId": "022bb90c-bbac-11e4-8dfc-aa07a5b093db",
            "anonymousId": "507f191e810c19729de860ea",
            "timestamp": "2026-11-26T10:00:00.000Z",
            "properties": {"version": "1.1.2", "build": "1234"},
            "context": {
                "app": {"name": "InitechGlobal", "version": "545"},
                "device": {
                    "id": "B5372DB0-C21E-11E4-8DFC-AA07A5B093DB",
                    "advertisingId": "7A3CBEA0-BDF5-11E4-8DFC-AA07A5B093DB",
                    "adTrackingEnabled": True,
                    "model": "iPhone7,2",
                    "type": "ios",
                },
                "os": {"name": "iOS", "version": "18.1"},
                "campaign": {"name": "spring", "source": "meta", "medium": "cpi"},
            },
        },
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "customer-42",
            "properties": {"order_id": "50314b8e", "revenue": 25.0, "currency": "EUR"},
        },
    ],
}
CURL_EXAMPLE = """\
curl -X POST "$BASE_URL/v1/batch" -u "$UMP_KEY:" -H "Content-Type: application/json" \\
  -d '{"batch": [{"type": "track", "event": "Application Installed", "anonymousId": "507f191e810c",
       "context": {"device": {"type": "ios", "advertisingId": "7A3CBEA0-BDF5-11E4-8DFC-AA07A5B093DB"}}}]}'
# -> 200 {"success": true, "accepted": 1, "rejected": [], "ids": ["…"]}"""


SETTINGS = {
    "operationId": "segment_settings",
    "tags": ["segment"],
    "summary": "Segment: the settings an SDK fetches when it starts (its CDN host pointed here)",
    "description": "analytics.js with `cdnURL`, analytics-swift and analytics-kotlin with `cdnHost` ask here which "
    "API host to send to: this instance's /v1 (PUBLIC_BASE_URL), so they never ask Segment's CDN about our keys. "
    "The key is in the path as the SDKs send it; logs cut it.",
    "security": [{}],
    "parameters": [
        {
            "name": "write_key",
            "in": "path",
            "required": True,
            "description": "The app's API key, as the SDK's write key.",
            "schema": {"type": "string"},
        }
    ],
    "responses": {
        "200": {
            "description": "Send to this instance's /v1 with this key.",
            "content": {"application/json": {"schema": {"$ref": REF.format(name="SegmentSettings")}}},
        },
        "404": {
            "description": "Unknown, revoked or missing write key.",
            "content": {"application/json": {"schema": {"$ref": REF.format(name="IngestError")}}},
        },
    },
}


def operations() -> list[dict]:
    """Each /v1/ path with what events.ingestion.openapi needs to document it."""
    out = []
    for kind, short in spec.SHORT_PATHS.items():
        if kind == "batch":
            body, summary = "SegmentBatch", "Segment: a batch of messages of any type"
            description = (
                "Segment's HTTP tracking API: point any Segment SDK here. Each message is checked on its "
                "own: the good ones are accepted, each bad one is reported by its index. A 2xx means the "
                f"accepted messages are durable. {MAPPING}\n\n```sh\n{CURL_EXAMPLE}\n```"
            )
        else:
            body, summary = PREFIX + spec.MESSAGE_TYPES[kind].__name__, f"Segment: one {kind} message"
            description = (
                f"One {kind} message, a batch of one (its `type` may be left out). A bad message is answered "
                f"200 with its reason at index 0. {MAPPING}"
            )
        for path, name in ((f"/v1/{kind}", kind), (f"/v1/{short}", short)):
            out.append(
                {
                    "path": path,
                    "operation_id": f"segment_{name}",
                    "summary": summary
                    if path.endswith(kind)
                    else f"{summary} (the path analytics.js and the mobile SDKs use)",
                    "description": description,
                    "body": body,
                    "example": EXAMPLE if kind == "batch" else EXAMPLE["batch"][0] if kind == "track" else None,
                }
            )
    return out
