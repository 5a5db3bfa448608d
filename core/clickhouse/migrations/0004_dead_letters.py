"""Messages the consumer could not store, kept with the reason (never silently dropped).
``manage.py replay_dead_letters`` sends them through the consumer again."""

OPERATIONS = [
    """
    CREATE TABLE IF NOT EXISTS dead_letters
    (
        dead_letter_id UUID,
        topic LowCardinality(String),
        partition UInt32,
        offset UInt64,
        message_key String,
        payload String,
        reason String,
        failed_at DateTime64(3, 'UTC'),
        replayed_at Nullable(DateTime64(3, 'UTC')),
        updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
    )
    ENGINE = ReplacingMergeTree(updated_at)
    PARTITION BY toYYYYMM(failed_at)
    ORDER BY (topic, dead_letter_id)
    """,
]
