"""Attribution results: one row per (conversion, model) with the credited path of touches.

The whole path lives in the row (``path.*``, one entry per touch with its credit), so recomputing a
conversion under new settings replaces the row even when the winning touches change:
ReplacingMergeTree keyed by (app, model, conversion) keeps the newest ``computed_at``. Reads that must
be exact use FINAL. ``ARRAY JOIN path`` gives one row per credited touch.
"""

OPERATIONS = [
    """
    CREATE TABLE IF NOT EXISTS attributions
    (
        app_id UUID,
        model LowCardinality(String),
        conversion_id UUID,
        conversion_name LowCardinality(String),
        conversion_kind LowCardinality(String),
        conversion_time DateTime64(3, 'UTC'),
        conversion_date Date,
        device_key String,
        user_id String,
        match_type LowCardinality(String),
        touch_id UUID,
        touch_type LowCardinality(String),
        touch_time Nullable(DateTime64(3, 'UTC')),
        media_source LowCardinality(String),
        campaign String,
        link_code String,
        ctit_seconds Nullable(Float64),
        confidence Float32,
        fraud_status LowCardinality(String),
        rejection_reason LowCardinality(String),
        rejected_touch_id UUID,
        settings_version UInt32,
        path Nested
        (
            touch_id UUID,
            touch_type LowCardinality(String),
            touch_time DateTime64(3, 'UTC'),
            media_source LowCardinality(String),
            campaign String,
            link_code String,
            match_type LowCardinality(String),
            credit Float64
        ),
        computed_at DateTime64(3, 'UTC') DEFAULT now64(3)
    )
    ENGINE = ReplacingMergeTree(computed_at)
    PARTITION BY toYYYYMM(conversion_time)
    ORDER BY (app_id, model, conversion_time, conversion_id)
    """,
]
