"""The attribution side's pre-aggregate (``dashboard/attributed_daily.py``): what the campaign report,
the overview and the model comparison read instead of crediting every install's path and joining
every purchase to its install at query time.

* ``attributed_installs``: new installs per app, refresh generation, model, install day (the app's
  time zone), platform and country of the install event, and media source, campaign, ad set and ad
  of each credited touch; ``installs`` is the sum of credits, ``non_organic`` that of touches.
* ``attributed_revenue``: the revenue those conversions (new installs and retargeting conversions in
  their re-engagement window) brought, by the same keys and the purchase's day and currency, times
  each touch's credit; ``first_payers``: the credit of new installs whose first purchase was that day.
* ``report_changes``: per app and second of arrival (``nowInBlock``: a long INSERT ... SELECT notes
  each block when it writes it), the earliest purchase time and conversion time written then. Two
  materialized views fill it on every insert into ``events`` and ``attributions``:
  whatever arrived after a refresh started makes the reports read the days from its earliest time
  on from the raw tables, so the pre-aggregate never answers for data it has not seen.

A refresh writes a whole new generation and then records it (``dashboard.ReportRefresh``), so a
reader sees one complete generation. The rows hold no identifier: listed in ``events.personal_data``
for retention only. Nothing to backfill: an app without a refresh reads the raw tables.
"""

OPERATIONS = [
    """
    CREATE TABLE IF NOT EXISTS attributed_installs
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
        installs Float64,
        non_organic Float64
    )
    ENGINE = MergeTree
    PARTITION BY toYYYYMM(day)
    ORDER BY (app_id, generation, model, day, media_source, campaign, adset, ad, platform, country)
    """,
    """
    CREATE TABLE IF NOT EXISTS attributed_revenue
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
        revenue_day Date,
        currency LowCardinality(String),
        amount Float64,
        first_payers Float64
    )
    ENGINE = MergeTree
    PARTITION BY toYYYYMM(day)
    ORDER BY (app_id, generation, model, day, media_source, campaign, adset, ad, platform, country, revenue_day)
    """,
    """
    CREATE TABLE IF NOT EXISTS report_changes
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
    CREATE MATERIALIZED VIEW IF NOT EXISTS report_changes_purchases TO report_changes AS
    SELECT app_id, nowInBlock('UTC') AS at, min(timestamp) AS earliest
    FROM events
    WHERE event_name = 'purchase'
    GROUP BY app_id
    """,
    """
    CREATE MATERIALIZED VIEW IF NOT EXISTS report_changes_conversions TO report_changes AS
    SELECT app_id, nowInBlock('UTC') AS at, min(conversion_time) AS earliest
    FROM attributions
    GROUP BY app_id
    """,
]
