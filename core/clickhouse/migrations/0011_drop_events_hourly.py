"""``events_hourly`` and its rollup machinery go: no report read them, and their shape (hours of every
event name, revenue summed across currencies, no platform, country or source) could not serve the
reports that need filters and one currency. Reports read their own pre-aggregates instead."""

OPERATIONS = [
    "DROP TABLE IF EXISTS events_hourly",
    "DROP TABLE IF EXISTS events_rollups",
    "ALTER TABLE events DROP INDEX IF EXISTS insert_id_minmax",
    "ALTER TABLE events DROP COLUMN IF EXISTS insert_id",
]
