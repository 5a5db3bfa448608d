"""``touches_hourly``: clicks and impressions per app, UTC hour, touch type, platform, media source,
campaign, ad set and ad, the counts the campaign report reads (``dashboard/analytics.py``: impressions,
clicks, CTR and click-to-install rates of the overview, the campaign drill-down and their CSV) instead
of scanning ``touchpoints FINAL`` (``dashboard/aggregates.py``: ``touches_source``). It holds no
identifier, so it is listed in ``events.personal_data`` for retention only.

A materialized view fills it on every insert into ``touchpoints``, in the same INSERT; a retried insert
adds nothing here either, as for ``events_activity`` (0041: the table's own deduplication window). A
process killed between the two parts of one insert leaves an hour short: ``manage.py
rebuild_report_aggregates --check`` finds the hours whose counts differ from ``touchpoints`` and
rebuilds their months. Run it once after this migration on a store with touchpoints (the view sees only new
inserts): stop the consumers while it runs.
"""

OPERATIONS = [
    """
    CREATE TABLE IF NOT EXISTS touches_hourly
    (
        app_id UUID,
        hour DateTime('UTC'),
        touch_type LowCardinality(String),
        platform LowCardinality(String),
        media_source LowCardinality(String),
        campaign String,
        adset String,
        ad String,
        touches SimpleAggregateFunction(sum, UInt64)
    )
    ENGINE = AggregatingMergeTree
    PARTITION BY toYYYYMM(hour)
    ORDER BY (app_id, hour, touch_type, platform, media_source, campaign, adset, ad)
    SETTINGS non_replicated_deduplication_window = 10000
    """,
    """
    CREATE MATERIALIZED VIEW IF NOT EXISTS touches_hourly_mv TO touches_hourly AS
    SELECT app_id, toStartOfHour(timestamp) AS hour, touch_type, platform, media_source, campaign, adset, ad,
           toUInt64(count()) AS touches
    FROM touchpoints
    GROUP BY app_id, hour, touch_type, platform, media_source, campaign, adset, ad
    """,
]
