"""Helpers for the ingestion tests: an app with a key, posting, reading back from ClickHouse."""

import gzip
import uuid

import orjson
from rest_framework.test import APIClient

from apps_registry import keys
from core import clickhouse
from tests.factories import AppFactory

IOS_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
ANDROID_UA = "Mozilla/5.0 (Linux; Android 15; Pixel 9 Build/AP3A.241105.008; wv) Chrome/131.0 Mobile"
DESKTOP_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
DEVICE_IP = "203.0.113.77"


def app_with_key(**app_fields):
    app = AppFactory(**app_fields)
    _, raw_key = keys.api_key_create(app=app, created_by=None)
    return app, raw_key


def post_events(
    raw_key: str, events: list[dict] | None = None, *, body: bytes | None = None, gzip_body=False, **headers
):
    payload = body if body is not None else orjson.dumps({"events": events or []})
    extra = {"HTTP_X_API_KEY": raw_key, "REMOTE_ADDR": DEVICE_IP, "HTTP_USER_AGENT": IOS_UA}
    if gzip_body:
        payload = gzip.compress(payload)
        extra["HTTP_CONTENT_ENCODING"] = "gzip"
    extra.update(headers)
    return APIClient().generic("POST", "/api/events", data=payload, content_type="application/json", **extra)


def stored_events(app_id, *columns: str) -> list[dict]:
    cols = ", ".join(columns or ("event_id", "event_name"))
    return clickhouse.execute(
        f"SELECT {cols} FROM events WHERE app_id = {{app:UUID}} ORDER BY timestamp, event_id",
        {"app": app_id},
        tag="test.stored_events",
    ).dicts()


def count(table: str, app_id) -> int:
    return clickhouse.execute(
        f"SELECT count() FROM {table} WHERE app_id = {{app:UUID}}", {"app": app_id}, tag="test.count"
    ).scalar()


def event(**fields) -> dict:
    return {"event_name": "purchase", "event_id": str(uuid.uuid4()), **fields}
