"""``people_seen``: when each person had an event, per app, refresh generation, platform and country,
in rows per day of the app's time zone and, in the two days before the refresh, per hour (``start``:
the row's start, ``day``: its day). A person as the activity metrics count one: the device id's hash,
else the user id's (``users``: the user ids' hashes of its events in the row). ``before_*``: the day of
the person's row before it, in the order of start, platform and country, among all of its rows
(``before_any``), those of its platform (``before_platform``), its country (``before_country``) or
both (``before_both``); 1970-01-01 when there is none. The report refresh writes it from
``people_daily`` and ``events`` (``dashboard/attributed_daily.py``).

The distinct people of a span of whole rows are then counts, not sets: in a span that starts on day
D, a person's first row is the only one whose ``before_*`` falls before D, so counting those rows
counts each person once (``aggregates.people_counts``).

The hashes identify people: the table is listed in ``events.personal_data`` (a ReplacingMergeTree for
the export's FINAL, as ``people_daily``). Nothing to backfill: readers skip a generation written before
this (``ReportRefresh.layout``) until the next refresh writes one.
"""

OPERATIONS = [
    """
    CREATE TABLE IF NOT EXISTS people_seen
    (
        app_id UUID,
        generation UInt64,
        start DateTime('UTC'),
        day Date,
        platform LowCardinality(String),
        country LowCardinality(String),
        person UInt64,
        users Array(UInt64),
        before_any Date,
        before_platform Date,
        before_country Date,
        before_both Date
    )
    ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(day)
    ORDER BY (app_id, generation, start, platform, country, person)
    """,
]
