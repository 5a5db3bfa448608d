"""``events_hourly`` is rolled up by the consumer once per insert (``events.hourly``) instead of by a
materialized view, whose part ClickHouse writes after the source's: a consumer killed between the two
lost those events' hourly counts for good.

Each insert into ``events`` now carries an ``insert_id`` (increasing, with a minmax index, so the
rollup of an insert reads only its own part), a repeated rollup of an insert is dropped by its
deduplication token, and ``events_rollups`` records the inserts rolled up. Stop the consumers while
this runs: between the view's removal and the new consumer, nothing rolls up.
"""

OPERATIONS = [
    "DROP VIEW IF EXISTS events_hourly_mv",
    "ALTER TABLE events ADD COLUMN IF NOT EXISTS insert_id UInt64 DEFAULT 0",
    "ALTER TABLE events ADD INDEX IF NOT EXISTS insert_id_minmax insert_id TYPE minmax GRANULARITY 1",
    "ALTER TABLE events MATERIALIZE INDEX insert_id_minmax",
    "ALTER TABLE events_hourly MODIFY SETTING non_replicated_deduplication_window = 10000",
    """
    CREATE TABLE IF NOT EXISTS events_rollups
    (
        insert_id UInt64,
        rolled_up_at DateTime('UTC') DEFAULT now()
    )
    ENGINE = ReplacingMergeTree
    ORDER BY insert_id
    TTL rolled_up_at + INTERVAL 90 DAY
    """,
]
