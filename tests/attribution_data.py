"""Writing touchpoints and events straight into ClickHouse for engine tests, and reading results.

The engine reads only ClickHouse, so its scenario tests put exactly the rows they describe there
(ids are already pseudonymous strings). The pipeline tests go through the real endpoints instead.
"""

import datetime as dt
import uuid

from core import clickhouse
from core.clickhouse import topology
from dashboard import aggregates
from events.attribution_engine import services

TOUCH_COLUMNS = (
    "app_id",
    "touch_id",
    "touch_type",
    "timestamp",
    "received_at",
    "origin",
    "link_code",
    "media_source",
    "campaign",
    "device_id",
    "device_ids",
    "ip_prefix",
    "user_agent",
    "os_name",
    "os_version",
    "consent",
)
EVENT_COLUMNS = (
    "app_id",
    "event_id",
    "event_name",
    "timestamp",
    "received_at",
    "user_id",
    "device_id",
    "device_ids",
    "ip_prefix",
    "os_name",
    "os_version",
    "attribution",
    "consent",
)


def touch_rows(app_id, touches: list[dict]) -> list[dict]:
    rows = []
    for touch in touches:
        device_ids = touch.get("device_ids", {})
        rows.append(
            {
                "app_id": app_id,
                "touch_id": touch.get("touch_id") or uuid.uuid4(),
                "touch_type": touch.get("type", "click"),
                "timestamp": touch["at"],
                "received_at": touch["at"],
                "origin": "link",
                "link_code": touch.get("link_code", "L" + touch.get("source", "net")[:9]),
                "media_source": touch.get("source", "net"),
                "campaign": touch.get("campaign", "c1"),
                "device_id": next(iter(device_ids.values()), ""),
                "device_ids": device_ids,
                "ip_prefix": touch.get("ip", ""),
                "user_agent": "",
                "os_name": touch.get("os", ""),
                "os_version": touch.get("os_version", ""),
                "consent": True,
            }
        )
    return rows


def event_rows(app_id, events: list[dict]) -> list[dict]:
    rows = []
    for event in events:
        device_ids = event.get("device_ids", {})
        click_id = event.get("click_id")
        rows.append(
            {
                "app_id": app_id,
                "event_id": event.get("event_id") or uuid.uuid4(),
                "event_name": event.get("name", "install"),
                "timestamp": event["at"],
                "received_at": event["at"],
                "user_id": event.get("user_id", ""),
                "device_id": next(iter(device_ids.values()), ""),
                "device_ids": device_ids,
                "ip_prefix": event.get("ip", ""),
                "os_name": event.get("os", ""),
                "os_version": event.get("os_version", ""),
                "attribution": {"click_id": click_id} if click_id else {},
                "consent": True,
            }
        )
    return rows


def store(app_id, *, touches: list[dict] = (), events: list[dict] = ()) -> None:
    clickhouse.insert("touchpoints", touch_rows(app_id, list(touches)), columns=TOUCH_COLUMNS, tag="test_touches")
    clickhouse.insert("events", event_rows(app_id, list(events)), columns=EVENT_COLUMNS, tag="test_events")


def store_versions(app_id, events: list[dict]) -> None:
    """Store each event dict (with its ``inserted_at``, and ``received_at`` if given) in an insert of its
    own: versions of one event, as ingestion never leaves them (the hourly aggregates count every
    version; the newest is FINAL's). Call ``forget_events`` after the test, so that the aggregates
    agree with the events again."""
    rows = event_rows(app_id, events)
    for row, event in zip(rows, events, strict=True):
        row.update({column: event[column] for column in ("inserted_at", "received_at") if column in event})
    for row in rows:
        clickhouse.insert("events", [row], columns=(*EVENT_COLUMNS, "inserted_at"), tag="test_event_versions")


def forget_events(app_id) -> None:
    """Delete an app's events and their hourly aggregates."""
    for table in ("events", *(hourly.table for hourly in aggregates.HOURLY)):
        clickhouse.execute(
            f"ALTER TABLE {topology.mutated(table)} DELETE WHERE app_id = {{app_id:UUID}} SETTINGS mutations_sync = 2",
            {"app_id": app_id},
            tag="test_forget_events",
        )


def run(app, since: dt.datetime, until: dt.datetime):
    return services.attribution_run(app=app, since=since, until=until)


RESULT_SQL = """
SELECT model, conversion_kind, match_type, touch_id, media_source, ctit_seconds, confidence, fraud_status,
       rejection_reason, rejected_touch_id, settings_version, conversion_date,
       path.touch_id, credits[model] AS credit, path.match_type
FROM attributions FINAL
ARRAY JOIN mapKeys(credits) AS model
WHERE app_id = {app_id:UUID} AND conversion_id = {conversion_id:UUID}
ORDER BY model
"""


def results(app_id, conversion_id) -> dict[str, dict]:
    """model -> the result row of one conversion (an empty dict when it is no conversion)."""
    result = clickhouse.execute(RESULT_SQL, {"app_id": app_id, "conversion_id": conversion_id}, tag="test_results")
    out = {}
    for row in result.rows:
        record = dict(zip(result.columns, row, strict=True))
        record["credits"] = dict(zip(record.pop("path.touch_id"), record.pop("credit"), strict=True))
        out[record.pop("model")] = record
    return out
