"""A bloom-filter index on ``events.event_id`` (the consumer looks up ids it may have stored before)
and hourly per-app, per-event pre-aggregations for the dashboards."""

OPERATIONS = [
    "ALTER TABLE events ADD INDEX IF NOT EXISTS event_id_bloom event_id TYPE bloom_filter GRANULARITY 4",
    "ALTER TABLE events MATERIALIZE INDEX event_id_bloom",
    """
    CREATE TABLE IF NOT EXISTS events_hourly
    (
        app_id UUID,
        hour DateTime('UTC'),
        event_name LowCardinality(String),
        events SimpleAggregateFunction(sum, UInt64),
        users AggregateFunction(uniq, String),
        devices AggregateFunction(uniq, String),
        revenue SimpleAggregateFunction(sum, Decimal(38, 6))
    )
    ENGINE = AggregatingMergeTree
    PARTITION BY toYYYYMM(hour)
    ORDER BY (app_id, hour, event_name)
    """,
    """
    CREATE MATERIALIZED VIEW IF NOT EXISTS events_hourly_mv TO events_hourly AS
    SELECT
        app_id,
        toStartOfHour(timestamp) AS hour,
        event_name,
        toUInt64(count()) AS events,
        uniqState(user_id) AS users,
        uniqState(device_id) AS devices,
        sum(toDecimal128(revenue, 6)) AS revenue
    FROM events
    GROUP BY app_id, hour, event_name
    """,
]
