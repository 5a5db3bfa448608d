"""``attributed_conversions``: the engine's conversions counted per app, refresh generation, day of the
app's time zone (``conversion_bucket``: the start of the conversion's hour in the two days before the
refresh, else of its day), and platform and country of the conversion's event, as the time series
counts them (``dashboard/metrics.py``: installs, organic and non-organic installs, re-attributions and
re-engagements). The series by day and week reads it for the conversions before the line instead of
``attributions FINAL`` (``dashboard/analytics.py``); the report refresh writes it with the rest of the
attribution side's pre-aggregate (``dashboard/attributed_daily.py``).

It holds no identifier (counts only), so it is listed in ``events.personal_data`` for retention only.
Nothing to backfill: readers skip a generation written before this (``ReportRefresh.layout``) until the
next refresh writes one.
"""

OPERATIONS = [
    """
    CREATE TABLE IF NOT EXISTS attributed_conversions
    (
        app_id UUID,
        generation UInt64,
        day Date,
        conversion_bucket DateTime('UTC'),
        platform LowCardinality(String),
        country LowCardinality(String),
        installs UInt64,
        organic UInt64,
        non_organic UInt64,
        reattributions UInt64,
        reengagements UInt64
    )
    ENGINE = MergeTree
    PARTITION BY toYYYYMM(day)
    ORDER BY (app_id, generation, day, conversion_bucket, platform, country)
    """,
]
