"""Every bus topic, in one place, with its Kafka partition count and the ClickHouse table it fills."""

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
