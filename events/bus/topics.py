"""Every bus topic, in one place, with its Kafka partition count."""

EVENTS = "ump.events.v1"
TOUCHPOINTS = "ump.touchpoints.v1"
SECURITY_EVENTS = "ump.security-events.v1"

PARTITIONS = {
    EVENTS: 12,
    TOUCHPOINTS: 12,
    SECURITY_EVENTS: 1,
}
