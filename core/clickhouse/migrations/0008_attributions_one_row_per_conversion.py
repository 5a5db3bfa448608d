"""Attribution results: one row per conversion, every model's credits in it; no scratch table.

Writing one row per (conversion, model) wrote the path six times: five sixths of the engine's time
went into storing copies. Now the row holds the credited path once (``path.*``, one entry per touch)
and ``credits`` maps each model to the credit of every path touch, in path order:
``arrayZip(path.media_source, credits['linear'])``.

Results are derived data: this migration drops those computed under the old layout instead of
converting them. ``manage.py run_attribution --recompute --from … --to …`` rebuilds any period.
A run's scratch rows now live in a Memory table of its own (``sql.create_scratch``), so the shared
scratch table goes.
"""

OPERATIONS = [
    "DROP TABLE IF EXISTS attribution_candidates",
    # Run again after an interruption, this drops only the new, still empty table: nothing writes
    # results before the migrations are applied.
    "DROP TABLE IF EXISTS attributions",
    """
    CREATE TABLE IF NOT EXISTS attributions
    (
        app_id UUID,
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
            match_type LowCardinality(String)
        ),
        credits Map(LowCardinality(String), Array(Float64)),
        computed_at DateTime64(3, 'UTC') DEFAULT now64(3)
    )
    ENGINE = ReplacingMergeTree(computed_at)
    PARTITION BY toYYYYMM(conversion_time)
    ORDER BY (app_id, conversion_time, conversion_id)
    """,
]
