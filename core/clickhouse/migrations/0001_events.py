"""The raw events table: one row per accepted SDK event, kept as received (after privacy transforms).

Partitioned by month so retention drops whole partitions; ordered for per-app, per-event time-range
reads. ReplacingMergeTree keyed by ``event_id`` within that order makes a re-delivered event collapse
into one row; ``non_replicated_deduplication_window`` makes a retried insert with the same
``insert_deduplication_token`` a no-op.
"""

OPERATIONS = [
    """
    CREATE TABLE IF NOT EXISTS events
    (
        app_id UUID,
        event_id UUID,
        event_name LowCardinality(String),
        timestamp DateTime64(3, 'UTC'),
        received_at DateTime64(3, 'UTC'),
        clock_skew_ms Int64,
        user_id String,
        session_id String,
        device_id String,
        device_ids Map(LowCardinality(String), String),
        platform LowCardinality(String),
        app_version LowCardinality(String),
        os_name LowCardinality(String),
        os_version LowCardinality(String),
        device_model LowCardinality(String),
        locale LowCardinality(String),
        country LowCardinality(String),
        ip_prefix String,
        user_agent String,
        attribution Map(LowCardinality(String), String),
        revenue Decimal(18, 6),
        currency LowCardinality(String),
        properties Map(String, String),
        consent Bool,
        inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
    )
    ENGINE = ReplacingMergeTree(inserted_at)
    PARTITION BY toYYYYMM(timestamp)
    ORDER BY (app_id, event_name, timestamp, event_id)
    SETTINGS non_replicated_deduplication_window = 10000
    """,
]
