"""``people_seen_counts``: the rows of ``people_seen`` (0048) counted per app, refresh generation, row
start (and its day), and the day of the row before under one of the reports' filters (``filters``:
``any``, ``platform``, ``country`` or ``both``, whose ``before_*`` is counted; ``platform`` and
``country`` are the row's where that filter takes them, else empty). The distinct people of a span are
the rows whose row before is older than the span (``aggregates.people_counts``), so a sum of ``rows``
answers for them without reading each person's row. The report refresh writes it from the generation's
``people_seen`` (``dashboard/attributed_daily.py``).

It holds no identifier (counts only), so it is listed in ``events.personal_data`` for retention only.
An erasure leaves the subject's rows counted until the next refresh, which it makes due, and nothing of
the generation is read until then (as ``people_seen``). Nothing to backfill: readers skip a generation
written before this (``ReportRefresh.layout``) until the next refresh writes one.
"""

OPERATIONS = [
    """
    CREATE TABLE IF NOT EXISTS people_seen_counts
    (
        app_id UUID,
        generation UInt64,
        filters LowCardinality(String),
        start DateTime('UTC'),
        day Date,
        platform LowCardinality(String),
        country LowCardinality(String),
        before Date,
        rows UInt64
    )
    ENGINE = MergeTree
    PARTITION BY toYYYYMM(day)
    ORDER BY (app_id, generation, filters, start, platform, country, before)
    """,
]
