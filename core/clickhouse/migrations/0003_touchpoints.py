"""Clicks and impressions. ``touch_id`` is the click id handed to the destination (hex form)."""

OPERATIONS = [
    """
    CREATE TABLE IF NOT EXISTS touchpoints
    (
        app_id UUID,
        touch_id UUID,
        touch_type LowCardinality(String),
        timestamp DateTime64(3, 'UTC'),
        received_at DateTime64(3, 'UTC'),
        origin LowCardinality(String),
        link_code String,
        media_source LowCardinality(String),
        campaign String,
        campaign_id String,
        adset String,
        adset_id String,
        ad String,
        ad_id String,
        site_id String,
        sub_params Map(String, String),
        network_click_id String,
        device_id String,
        device_ids Map(LowCardinality(String), String),
        ip_prefix String,
        user_agent String,
        platform LowCardinality(String),
        os_name LowCardinality(String),
        os_version LowCardinality(String),
        device_model LowCardinality(String),
        consent Bool,
        inserted_at DateTime64(3, 'UTC') DEFAULT now64(3),
        INDEX touch_id_bloom touch_id TYPE bloom_filter GRANULARITY 4,
        INDEX device_id_bloom device_id TYPE bloom_filter GRANULARITY 4
    )
    ENGINE = ReplacingMergeTree(inserted_at)
    PARTITION BY toYYYYMM(timestamp)
    ORDER BY (app_id, touch_type, timestamp, touch_id)
    SETTINGS non_replicated_deduplication_window = 10000
    """,
]
