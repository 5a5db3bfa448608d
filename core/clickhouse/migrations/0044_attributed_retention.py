"""Retention in the attribution side's pre-aggregate (``dashboard/attributed_daily.py``): what the
cohort reports read instead of joining every event of the period to its install at query time.

* ``attributed_retention``: per app, refresh generation, model, install day and the keys of
  ``attributed_installs``, the credit of the new installs whose device was active in a period:
  ``step`` 1, the days since the install day (up to 30); ``step`` 7, the weeks (starting on Monday)
  since the install's week (up to 12); ``period``: the day, or the week's Monday.
* ``attributed_revenue.new_install``: whether the row's conversions are new installs (the cohorts'
  revenue) or retargeting conversions (in the campaign report's revenue too).
* ``activity_changes``: per app and second of arrival, the earliest event time written then (any
  event: activity is retention). A materialized view fills it on every insert into ``events``; the
  cohort reports read the pre-aggregate only for what came before it, as ``report_changes`` does for
  purchases and conversions.

The rows hold no identifier: listed in ``events.personal_data`` for retention only. Nothing to
backfill: readers skip a generation written before this (``ReportRefresh.layout``) until the next
refresh writes one.
"""

OPERATIONS = [
    """
    CREATE TABLE IF NOT EXISTS attributed_retention
    (
        app_id UUID,
        generation UInt64,
        model LowCardinality(String),
        day Date,
        platform LowCardinality(String),
        country LowCardinality(String),
        media_source LowCardinality(String),
        campaign String,
        adset String,
        ad String,
        step UInt8,
        period Date,
        retained Float64
    )
    ENGINE = MergeTree
    PARTITION BY toYYYYMM(day)
    ORDER BY (app_id, generation, model, step, day, media_source, campaign, adset, ad, platform, country, period)
    """,
    "ALTER TABLE attributed_revenue ADD COLUMN IF NOT EXISTS new_install Bool DEFAULT false",
    """
    CREATE TABLE IF NOT EXISTS activity_changes
    (
        app_id UUID,
        at DateTime('UTC'),
        earliest SimpleAggregateFunction(min, DateTime64(3, 'UTC'))
    )
    ENGINE = AggregatingMergeTree
    PARTITION BY toYYYYMM(at)
    ORDER BY (app_id, at)
    """,
    """
    CREATE MATERIALIZED VIEW IF NOT EXISTS activity_changes_events TO activity_changes AS
    SELECT app_id, nowInBlock('UTC') AS at, min(timestamp) AS earliest
    FROM events
    GROUP BY app_id
    """,
]
