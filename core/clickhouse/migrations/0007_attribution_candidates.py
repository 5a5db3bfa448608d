"""Scratch space of attribution runs: each run's matched conversions, one partition per run.

A run matches once into its partition, decides the period (click flooding) from it, writes the results
and drops the partition. The TTL removes what a run that died half-way left behind.
"""

OPERATIONS = [
    """
    CREATE TABLE IF NOT EXISTS attribution_candidates
    (
        scratch_id UInt64,
        conversion_id UUID,
        conversion_name LowCardinality(String),
        conversion_kind LowCardinality(String),
        conversion_time DateTime64(3, 'UTC'),
        device_key String,
        user_id String,
        touches Array(Tuple(
            DateTime64(3, 'UTC'), UUID, UInt8, LowCardinality(String), LowCardinality(String), String, String
        )),
        created_at DateTime DEFAULT now()
    )
    ENGINE = MergeTree
    PARTITION BY scratch_id
    ORDER BY conversion_id
    TTL created_at + INTERVAL 1 DAY
    """,
]
