"""``events_activity``: events and revenue per app, UTC hour, event name, platform, country and currency,
the counts and sums the activity reports read (``dashboard/analytics.py``: the overview's events, the
time series' events and revenue; ``dashboard/selectors.py``'s stats and series) instead of scanning
``events FINAL``. It holds no identifier (distinct users and devices are counted from ``events``), so it
is listed in ``events.personal_data`` for retention only.

A materialized view fills it on every insert into ``events``, in the same INSERT. A retried insert
that ClickHouse drops by its deduplication token adds nothing here either: with
``deduplicate_blocks_in_dependent_materialized_views`` off the view is skipped with the deduplicated
block; with it on (chdb 26's default) the block goes on to the view, whose table drops it by its own
deduplication window (measured on chdb 26.9: without that window the retried rows counted twice). The consumer never inserts an
event id already stored. A process killed
between the two parts of one insert leaves an hour short: ``manage.py rebuild_report_aggregates
--check`` finds the hours whose counts differ from ``events`` and rebuilds them; without ``--check`` it
rebuilds every month from ``events``. Run it once after this migration on a store with events (the
view sees only new inserts): stop the consumers while it runs.
"""

OPERATIONS = [
    """
    CREATE TABLE IF NOT EXISTS events_activity
    (
        app_id UUID,
        hour DateTime('UTC'),
        event_name LowCardinality(String),
        platform LowCardinality(String),
        country LowCardinality(String),
        currency LowCardinality(String),
        events SimpleAggregateFunction(sum, UInt64),
        revenue SimpleAggregateFunction(sum, Decimal(38, 6))
    )
    ENGINE = AggregatingMergeTree
    PARTITION BY toYYYYMM(hour)
    ORDER BY (app_id, hour, event_name, platform, country, currency)
    SETTINGS non_replicated_deduplication_window = 10000
    """,
    """
    CREATE MATERIALIZED VIEW IF NOT EXISTS events_activity_mv TO events_activity AS
    SELECT app_id, toStartOfHour(timestamp) AS hour, event_name, platform, country, currency,
           toUInt64(count()) AS events, sum(toDecimal128(revenue, 6)) AS revenue
    FROM events
    GROUP BY app_id, hour, event_name, platform, country, currency
    """,
]
