"""The latest events an app sent, newest arrival first: the live events page, for checking an SDK
integration. Values travel as parameters; the app id is in the WHERE."""

import datetime as dt
import uuid

from core import clickhouse

LATEST_SQL = """
SELECT event_id, event_name, timestamp, received_at, platform, app_version, country, device_id, user_id,
       attribution['source'] AS source, attribution['campaign'] AS campaign, revenue, currency
FROM events
WHERE app_id = {app_id:UUID}
  AND received_at >= {received_since:DateTime64(3, 'UTC')}
  AND timestamp >= {timestamp_since:DateTime64(3, 'UTC')}
ORDER BY received_at DESC, event_id
LIMIT 1 BY event_id
LIMIT {limit:UInt32}
"""


def latest_events(
    *, app_id: uuid.UUID, received_since: dt.datetime, oldest_timestamp: dt.datetime, limit: int
) -> list[dict]:
    """Events received since ``received_since``, newest first, at most ``limit``. ``oldest_timestamp``
    bounds the partitions read: ingestion refuses events older than INGEST_MAX_PAST_DAYS. A row stored
    twice (a redelivery not yet merged away) is listed once."""
    return clickhouse.execute(
        LATEST_SQL,
        {"app_id": app_id, "received_since": received_since, "timestamp_since": oldest_timestamp, "limit": limit},
        tag="dashboard.latest_events",
    ).dicts()
