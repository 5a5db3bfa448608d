"""``people_daily``: who had an event per app, refresh generation and day of the app's time zone (with
the platform and country, and whether it was a purchase), as ``events_people`` has it per UTC hour: the
device id and the user id, each as its 64-bit hash (0: none). The report refresh writes it whole with
the attribution side's pre-aggregate (``dashboard/attributed_daily.py``); the overview's active users and
the daily and weekly active users of the time series count over it for the whole days before the
refresh's line (``aggregates.people_source``), a day's people being fewer rows than its hours' people.

The hashes identify people: the table is listed in ``events.personal_data`` with the filters that find
a subject's rows (a ReplacingMergeTree for the export's FINAL: a refresh writes no row twice, and a
row twice would change no distinct count). Nothing to backfill: readers skip a generation written
before this (``ReportRefresh.layout``) until the next refresh writes one.
"""

OPERATIONS = [
    """
    CREATE TABLE IF NOT EXISTS people_daily
    (
        app_id UUID,
        generation UInt64,
        day Date,
        platform LowCardinality(String),
        country LowCardinality(String),
        purchase Bool,
        device UInt64,
        user UInt64
    )
    ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(day)
    ORDER BY (app_id, generation, day, platform, country, purchase, device, user)
    """,
]
