"""Each event and touchpoint keeps the id of the HTTP request that brought it (X-Request-ID), so the
consumer's and the engine's log lines can name the requests whose rows they stored or attributed,
and a request a client quotes can be found in the data."""

OPERATIONS = [
    "ALTER TABLE events ADD COLUMN IF NOT EXISTS request_id String DEFAULT ''",
    "ALTER TABLE touchpoints ADD COLUMN IF NOT EXISTS request_id String DEFAULT ''",
]
