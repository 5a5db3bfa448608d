"""``events_people``: who had an event per app and UTC hour (with its platform and country, and whether it
was a purchase): the device id and the user id, each as its 64-bit hash (0: none), one row per
combination. The distinct users and devices the reports count (``dashboard/metrics.py``: active users,
daily active devices, purchasers) are counted over these rows for the whole hours of a period instead
of over every event (``dashboard/aggregates.py``: ``people_source``).

A materialized view fills it on every insert into ``events``, in the same INSERT. A row twice (a
retried insert, a redelivery) changes no distinct count; the engine drops it at a merge. A process
killed between the two parts of one insert leaves an hour short: ``manage.py rebuild_report_aggregates
--check`` finds it. Run that command once after this migration on a store with events (the view sees
only new inserts).

The hashes identify people: the table is listed in ``events.personal_data`` with the filters that find
a subject's rows, so erasure, export and retention cover it.
"""

OPERATIONS = [
    """
    CREATE TABLE IF NOT EXISTS events_people
    (
        app_id UUID,
        hour DateTime('UTC'),
        platform LowCardinality(String),
        country LowCardinality(String),
        purchase Bool,
        device UInt64,
        user UInt64
    )
    ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(hour)
    ORDER BY (app_id, hour, platform, country, purchase, device, user)
    """,
    """
    CREATE MATERIALIZED VIEW IF NOT EXISTS events_people_mv TO events_people AS
    SELECT app_id, toStartOfHour(timestamp) AS hour, platform, country, event_name = 'purchase' AS purchase,
           if(device_id != '', cityHash64(device_id), 0) AS device, if(user_id != '', cityHash64(user_id), 0) AS user
    FROM events
    GROUP BY app_id, hour, platform, country, purchase, device, user
    """,
]
