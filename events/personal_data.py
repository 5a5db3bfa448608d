"""Where personal data lives: the one registry that erasure, export and retention all read.

Every ClickHouse table that holds rows about people is listed in ``TABLES``, with its data class (the
retention setting that bounds its age, ``RETENTION_DAYS``), the column that age is measured by
(tables are partitioned by month of that column, so retention drops whole partitions), and, when
its rows carry a data subject's identifiers, how to find one subject's rows. A table added later —
a report's pre-aggregate, a device-identity table — is one line here: erasure, export and retention
then cover it. A pre-aggregate that keeps no identifier (counts per campaign and day) is not about
anyone: list it for retention only (no subject filters).

Subject filters are SQL conditions that may use ``{app_id:UUID}``, ``{kind:String}`` (``user`` or a
device id kind), ``{pseudonym:String}`` (the stored pseudonym, ``events.privacy``), and what the
subject's events tell, read before anything is erased: ``{event_ids:Array(UUID)}`` (an attribution
belongs to the subject of its conversion, whichever identifier the conversion was keyed by) and
``{devices:Array(String)}`` (the pseudonyms of every device id those events carry: a user's
touchpoints are their devices' clicks). The app filter always goes with them.

The OLTP side: the embedded bus's pending messages (``events.OutboxMessage``) hold rows on their way
to these tables; erasure rewrites them (``events.subjects.stores``). Opt-outs and the audit of
data-subject requests hold pseudonyms on purpose.
"""

from dataclasses import dataclass

from events.ingestion.schema import DEVICE_ID_KINDS

USER = "user"
SUBJECT_KINDS = (USER, *DEVICE_ID_KINDS)

# Data classes, each with its retention setting (days) in attribution/settings.py: RETENTION_DAYS.
RAW_EVENTS = "raw_events"
TOUCHPOINTS = "touchpoints"
ATTRIBUTIONS = "attributions"
SECURITY_LOG = "security_log"
DEAD_LETTERS = "dead_letters"
DATA_CLASSES = (RAW_EVENTS, TOUCHPOINTS, ATTRIBUTIONS, SECURITY_LOG, DEAD_LETTERS)

_IN_APP = "app_id = {app_id:UUID}"
_OF_CONVERSION = "has({event_ids:Array(UUID)}, conversion_id)"
_DEVICE = "device_id = {pseudonym:String} OR device_ids[{kind:String}] = {pseudonym:String}"
# The people tables (dashboard/aggregates.py) hold the hashes of the ids: a column's of the device.
_HASHED_DEVICE = (
    "{column} = cityHash64({{pseudonym:String}}) "
    "OR has(arrayMap(d -> cityHash64(d), {{devices:Array(String)}}), {column})"
)
_PERSON_USER = "user = cityHash64({pseudonym:String})"
_PERSON_DEVICE = _HASHED_DEVICE.format(column="device")
_OF_DEVICES = "has({devices:Array(String)}, device_id) OR hasAny({devices:Array(String)}, mapValues(device_ids))"


@dataclass(frozen=True)
class PersonalTable:
    name: str
    data_class: str
    time_column: str  # the table is partitioned by toYYYYMM of it
    app_filter: str | None = _IN_APP  # None: rows of no app (the security log)
    user_filter: str | None = None  # the rows of one subject known by user id; None: none here
    device_filter: str | None = None  # ... by a device id of ``{kind}``

    def subject_filter(self, kind: str) -> str | None:
        return self.user_filter if kind == USER else self.device_filter


# Erasure reads the subject's event ids first, then deletes in this order.
TABLES = (
    PersonalTable(
        "attributions",
        ATTRIBUTIONS,
        "conversion_time",
        user_filter=f"user_id = {{pseudonym:String}} OR {_OF_CONVERSION}",
        device_filter=f"device_key = {{pseudonym:String}} OR {_OF_CONVERSION}",
    ),
    PersonalTable("events", RAW_EVENTS, "timestamp", user_filter="user_id = {pseudonym:String}", device_filter=_DEVICE),
    PersonalTable(
        "touchpoints", TOUCHPOINTS, "timestamp", user_filter=_OF_DEVICES, device_filter=f"{_DEVICE} OR {_OF_DEVICES}"
    ),
    # Dead letters keep the row as it came off the bus: its fields are read from the JSON. A payload
    # that is no JSON object names no one that can be found.
    PersonalTable(
        "dead_letters",
        DEAD_LETTERS,
        "failed_at",
        app_filter="JSONExtractString(payload, 'app_id') = toString({app_id:UUID})",
        user_filter="JSONExtractString(payload, 'user_id') = {pseudonym:String}",
        device_filter=(
            "JSONExtractString(payload, 'device_id') = {pseudonym:String} "
            "OR JSONExtractString(payload, 'device_ids', {kind:String}) = {pseudonym:String}"
        ),
    ),
    PersonalTable("security_events", SECURITY_LOG, "timestamp", app_filter=None),
    # The reports' events and revenue per hour (dashboard/aggregates.py): no identifier, retention only.
    PersonalTable("events_activity", RAW_EVENTS, "hour"),
    # The reports' clicks and impressions per hour (dashboard/aggregates.py): no identifier, retention only.
    PersonalTable("touches_hourly", TOUCHPOINTS, "hour"),
    # Who had an event per hour (dashboard/aggregates.py): the hashes of the rows' device and user ids.
    PersonalTable("events_people", RAW_EVENTS, "hour", user_filter=_PERSON_USER, device_filter=_PERSON_DEVICE),
    # The same per day of the app, written by the report refresh (dashboard/attributed_daily.py).
    PersonalTable("people_daily", RAW_EVENTS, "day", user_filter=_PERSON_USER, device_filter=_PERSON_DEVICE),
    # Each person's days, written from it by the refresh: the person's hash and its user ids' hashes.
    PersonalTable(
        "people_seen",
        RAW_EVENTS,
        "day",
        user_filter="has(users, cityHash64({pseudonym:String})) OR person = cityHash64({pseudonym:String})",
        device_filter=_HASHED_DEVICE.format(column="person"),
    ),
    # Their rows counted by the day of the row before (dashboard/attributed_daily.py): retention only.
    PersonalTable("people_seen_counts", RAW_EVENTS, "day"),
    # Installs, revenue and retention per day, model and ad (dashboard/attributed_daily.py): retention only.
    PersonalTable("attributed_installs", ATTRIBUTIONS, "day"),
    PersonalTable("attributed_conversions", ATTRIBUTIONS, "day"),
    PersonalTable("attributed_revenue", ATTRIBUTIONS, "day"),
    PersonalTable("attributed_retention", ATTRIBUTIONS, "day"),
)


def table(name: str) -> PersonalTable:
    return next(t for t in TABLES if t.name == name)
