"""The latest events an app sent, newest arrival first, for checking an SDK integration: the live
events page and the event explorer API (/api/analytics/explorer) read this one selector. Rows are
as stored: identifiers pseudonymised at the edge, never anything the events table does not keep.
Values travel as parameters; the app id is in the WHERE."""

import datetime as dt
import uuid

from core import clickhouse
from events.ingestion.schema import DEVICE_ID_KINDS
from events.privacy import pseudonymize

MAX_LIMIT = 500

_RECEIVED = """app_id = {app_id:UUID}
  AND received_at >= {received_since:DateTime64(3, 'UTC')}
  AND timestamp >= {timestamp_since:DateTime64(3, 'UTC')}
  {narrowing}"""
_NEWEST = "ORDER BY received_at DESC, event_id LIMIT 1 BY event_id LIMIT {limit:UInt32}"
# The latest events are picked first by their arrival and key alone, then read whole through the table's
# key: the other columns (the properties above all) are read for those events only, not for every
# event received in the window.
LATEST_SQL = f"""
SELECT event_id, event_name, timestamp, received_at, platform, app_version, country, device_id, user_id,
       attribution['source'] AS source, attribution['campaign'] AS campaign, revenue, currency, properties
FROM events
WHERE {_RECEIVED}
  AND (event_name, timestamp, event_id) IN (
      SELECT event_name, timestamp, event_id FROM events WHERE {_RECEIVED} {_NEWEST}
  )
{_NEWEST}
"""


def device_pseudonyms(*, app_id: uuid.UUID, device_id: str) -> list[str]:
    """What ``device_id`` may be stored as: itself (a pseudonym copied from a listing), or the raw id
    an SDK sent, pseudonymised as ingestion does under each kind of device id."""
    return [device_id, *(pseudonymize(str(app_id), kind, device_id) for kind in DEVICE_ID_KINDS)]


def latest_events(
    *,
    app_id: uuid.UUID,
    received_since: dt.datetime,
    oldest_timestamp: dt.datetime,
    limit: int,
    event_name: str = "",
    device_id: str = "",
) -> list[dict]:
    """Events received since ``received_since``, newest first, at most ``limit`` (at most MAX_LIMIT),
    of one event name and one device if given (the device as sent or as stored). ``oldest_timestamp``
    bounds the partitions read: ingestion refuses events older than INGEST_MAX_PAST_DAYS. A row stored
    twice (a redelivery not yet merged away) is listed once."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit {limit} is outside 1..{MAX_LIMIT}")
    narrowing = []
    params = {"app_id": app_id, "received_since": received_since, "timestamp_since": oldest_timestamp, "limit": limit}
    if event_name:
        narrowing.append("AND event_name = {event_name:String}")
        params["event_name"] = event_name
    if device_id:
        narrowing.append("AND hasAny(mapValues(device_ids), {devices:Array(String)})")
        params["devices"] = device_pseudonyms(app_id=app_id, device_id=device_id)
    sql = LATEST_SQL.replace("{narrowing}", " ".join(narrowing))
    return clickhouse.execute(sql, params, tag="dashboard.latest_events").dicts()
