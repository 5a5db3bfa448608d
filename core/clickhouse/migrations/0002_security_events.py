"""Security events copied from the OLTP log (the record of truth) for analysis beside the product data.

``id`` is the OLTP row id: the exporter resumes after the highest one here, and ReplacingMergeTree on
``id`` collapses a batch that was exported twice.
"""

OPERATIONS = [
    """
    CREATE TABLE IF NOT EXISTS security_events
    (
        id UInt64,
        timestamp DateTime64(3, 'UTC'),
        user_id Nullable(UUID),
        user_email String,
        action LowCardinality(String),
        resource String,
        ip Nullable(IPv6),
        user_agent String,
        success Bool,
        metadata String
    )
    ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(timestamp)
    ORDER BY (action, timestamp, id)
    """,
]
