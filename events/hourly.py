"""``events_hourly``, the dashboards' pre-aggregates (per app, hour and event name: events, unique users
and devices, revenue), rolled up by the consumer once per insert into ``events``.

Not a materialized view: ClickHouse writes a view's part after the source table's, so a consumer
killed between the two left events stored whose hourly counts were never written. Delivered again,
those events were found stored and skipped, and their counts were lost for good.

Instead, every insert statement into ``events`` (one per month: one part, so its rows appear at once)
carries an ``insert_id``. ``roll_up`` aggregates the rows of an insert (``WHERE insert_id = …``) into
``events_hourly`` with a deduplication token of that id and month, then records the id in
``events_rollups``. The consumer rolls up each insert it makes, and any insert whose
rows it finds already stored but which is not recorded: the insert of a consumer that died before
rolling it up. Running either twice changes nothing, so each insert is counted once wherever the
consumer dies.
"""

import datetime as dt
import hashlib
from collections.abc import Collection

from attribution import clickhouse

# An insert whose rollup record has expired (``events_rollups``' TTL is 90 days) is never rolled up
# again: the same event sent again months later must not count its insert twice.
REPAIR_HORIZON = dt.timedelta(days=60)
_RANDOM_BITS = 20


def insert_id(batch_started_ms: int, token: str) -> int:
    """The id of one insert statement: when its batch was prepared, in milliseconds since the epoch,
    then 20 bits of the statement's deduplication token. Ids grow with time, so that the rollup's
    ``insert_id`` lookup skips every older part by its minmax index; a statement sent again keeps its
    id, and the statements of a batch, or of consumers in the same millisecond, differ."""
    return batch_started_ms << _RANDOM_BITS | int(hashlib.sha256(token.encode()).hexdigest()[:5], 16)


def _inserted_at(insert_id: int) -> dt.datetime:
    return dt.datetime.fromtimestamp((insert_id >> _RANDOM_BITS) / 1000, dt.UTC)


def roll_up(insert_id: int, months: Collection[int] | None = None) -> None:
    """Add the rows of one insert to ``events_hourly`` (once, however often this runs) and record it.
    One statement per month, each with its own token: a statement spanning two months would write
    two parts, and ClickHouse's tokens for those are not the same from one run to the next.
    ``months`` (``toYYYYMM``) when the caller knows them, as the consumer does for its own inserts
    (one month each); otherwise they are looked up."""
    if months is None:
        months = [
            month
            for (month,) in clickhouse.execute(
                "SELECT DISTINCT toYYYYMM(timestamp) FROM events WHERE insert_id = {insert_id:UInt64}",
                {"insert_id": insert_id},
                tag="consumer.events_hourly.months",
            ).rows
        ]
    for month in months:
        clickhouse.execute(
            "INSERT INTO events_hourly (app_id, hour, event_name, events, users, devices, revenue) "
            "SELECT app_id, toStartOfHour(timestamp) AS hour, event_name, toUInt64(count()), "
            "uniqState(user_id), uniqState(device_id), sum(toDecimal128(revenue, 6)) "
            "FROM events WHERE insert_id = {insert_id:UInt64} AND toYYYYMM(timestamp) = {month:UInt32} "
            "GROUP BY app_id, hour, event_name ORDER BY app_id, hour, event_name "
            f"SETTINGS insert_deduplication_token = 'events_hourly:{int(insert_id)}:{int(month)}'",
            {"insert_id": insert_id, "month": month},
            tag="consumer.events_hourly",
        )
    clickhouse.insert(
        "events_rollups", [{"insert_id": insert_id}], columns=["insert_id"], tag="consumer.events_rollups"
    )


def roll_up_unrecorded(insert_ids: Collection[int]) -> int:
    """Roll up those of ``insert_ids`` not recorded as rolled up (an insert made before ``events``
    had insert ids, 0, or older than the horizon, is left alone). Returns how many it rolled up."""
    horizon = dt.datetime.now(dt.UTC) - REPAIR_HORIZON
    candidates = [i for i in insert_ids if i and _inserted_at(i) > horizon]
    if not candidates:
        return 0
    recorded = clickhouse.execute(
        "SELECT DISTINCT insert_id FROM events_rollups WHERE insert_id IN {ids:Array(UInt64)}",
        {"ids": candidates},
        tag="consumer.events_rollups.seen",
    ).rows
    missing = set(candidates) - {insert_id for (insert_id,) in recorded}
    for insert_id in sorted(missing):
        roll_up(insert_id)
    return len(missing)
