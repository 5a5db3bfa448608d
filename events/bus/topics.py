"""Every bus topic, in one place, with its Kafka partition count and the ClickHouse table it fills.

A message carries the rows of one accepted request as JSON lines (one row per line): one durable
write per request, however many events it holds. Its key is the first row's id.
"""

EVENTS = "ump.events.v1"
TOUCHPOINTS = "ump.touchpoints.v1"

PARTITIONS = {
    EVENTS: 12,
    TOUCHPOINTS: 12,
}

TABLES = {
    EVENTS: "events",
    TOUCHPOINTS: "touchpoints",
}
