"""The attribution pipeline as ClickHouse SQL. Python only fills in parameters.

A run has two statements, with a scratch table between them (a Memory table of the run's own,
``CREATE_SCRATCH``) so that the expensive matching happens once even though the click-flooding
decision needs every match of the period before any conversion can be decided.

Matching (``insert_candidates``), CTE by CTE:

0. ``id_labels``: device identity. The ids seen together on one install (of any age) are one device,
   named by the least of them; an event is the device its first id names (``identity``). The stored
   ``device_key`` stays the event's own (first id, or the user id when the app's setting allows).
1. ``window_devices``: the devices with a conversion in the run; ``history``/``sequenced``: their
   events and those of no device (no other device's decides anything), from one ``Rules.history_ms``
   before the earliest conversion, each with the latest earlier activity of the same device (one
   window function pass).
2. ``install_chains``: every install of the run's devices however old, with the last install that
   counted as new at each (``arrayFold`` per device).
   A conversion's kind is thus the same whatever the run window: bounded look-backs read activity,
   and the installs — few, and stored first in the ``events`` order — are read whole.
3. ``conversions``: installs (``install``: a new install, the device's first or one after the
   re-attribution window since the last install that counted as new, as AppsFlyer and Adjust measure
   it; ``reinstall``: inside that window) and re-engagements (an open after the inactivity window by a
   device that installed before). A reinstall or a re-engagement is matched only to deterministic
   clicks (tiers 1-2) after the device's latest earlier activity: a reinstall with one becomes a
   ``reattribution`` (AppsFlyer's term) credited to it, a re-engagement without one is dropped.
4. ``conversion_keys`` / ``touch_keys``: the match keys of each side, hashed with their kind — click id
   (1), pseudonymous device id (2: every id of the device, ``id_members``), ip prefix + os + version
   (3, probabilistic, only when enabled and all three are known on both sides).
   One hash join on the key replaces five joins, one per waterfall tier; a 64-bit hash of kind and
   value makes the join cheap (a false match needs a collision: about 1 in 10^6 for a whole run of
   10M touches x 1M conversions).
5. ``joined``: every (conversion, touch) sharing a key, with its tier, age and whether it is inside
   its tier's window (``eligible``); every conversion appears, matched or not (a RIGHT JOIN).
6. ``candidates``: per conversion, its eligible touches, each once at its best tier.

Deciding (``insert_results``, from the scratch rows of a run):

7. ``decided``: fraud flags per touch; the waterfall — the best tier wins; the path is every matched
   touch of the winning kind (deterministic clicks, probabilistic clicks, device impressions or
   probabilistic impressions), in time order; flagged touches are dropped first when the app rejects fraud.
8. ``credited``: one credit array per model over that path; the final SELECT has one row per
   conversion, its ``credits`` map holding every model's array, and for a re-attribution or a
   re-engagement credited to a touch the end of its re-engagement window (``reengagement_window_end``).

Explaining one conversion (``explain_candidates``): the same matching for that conversion alone, read
from the rows of its device only (``devices``: every id of it, ``conversion_devices``), with every touch
that shares a key with it, in its windows or not.

Touch tuples are (time, touch_id, tier, type, media_source, campaign, link_code) in the scratch
table, with the fraud flag appended in ``decided``.
"""

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping

from django.conf import settings

from events.attribution_engine.rules import (
    CONFIDENCE,
    CONVERSION_EVENTS,
    MODELS,
    NEW_INSTALL_KINDS,
    REENGAGEMENT_EVENTS,
    RETARGETING_KINDS,
    TIERS,
    Rules,
)

# Conversions are chosen by event time (runs over history) or by arrival (the continuous run).
WINDOW_FILTERS = {
    "timestamp": "timestamp >= {since:DateTime64(3, 'UTC')} AND timestamp < {until:DateTime64(3, 'UTC')}",
    "inserted_at": (
        "inserted_at > {since:DateTime64(3, 'UTC')} AND inserted_at <= {until:DateTime64(3, 'UTC')}"
        " AND timestamp < {until:DateTime64(3, 'UTC')}"
    ),
    "conversion": "event_id = {conversion_id:UUID}",
}

EXPLAIN_MARGIN = dt.timedelta(days=7)


def literals(names) -> str:
    """Names of this package's vocabulary (constants, never input) as a SQL list."""
    return ", ".join(f"'{name}'" for name in names)


CONVERSION_NAMES = literals(CONVERSION_EVENTS)
NEW_INSTALLS = literals(NEW_INSTALL_KINDS)
RETARGETING = literals(RETARGETING_KINDS)
_REENGAGEMENT_NAMES = literals(REENGAGEMENT_EVENTS)
# A device across its events: its first device id, else the pseudonymous user id (the reports' key of
# a purchaser, beside the engine's ``device_key``).
DEVICE_KEY = "if(device_id != '', device_id, user_id)"
# The engine's: the user id stands in for a device only when the app's settings say so.
_DEVICE_KEY = "if(device_id != '', device_id, if({user_id_fallback:Bool}, user_id, ''))"
# The devices a query is about (an explanation's: ``conversion_devices``), as every id of theirs; every
# device when empty.
_ALL_DEVICES = "empty({devices:Array(String)})"
# Device identity: the ids seen together on one install, of any age, are one device, named by the least
# of them; an event is the device its first id names (``identity``), else its own device key. For some
# devices (``devices``), the labels of their ids only, from the installs that carry one of those ids:
# every install such a label is taken from.
_ID_LABELS = f"""id_labels AS (
    SELECT value, min(least_id) AS label
    FROM (
        SELECT mapValues(device_ids) AS ids, arrayMin(ids) AS least_id FROM events
        WHERE app_id = {{app_id:UUID}} AND event_name IN ({CONVERSION_NAMES}) AND device_ids.size0 > 1
          AND ({_ALL_DEVICES} OR hasAny(ids, {{devices:Array(String)}}))
    )
    ARRAY JOIN ids AS value
    WHERE {_ALL_DEVICES} OR has({{devices:Array(String)}}, value)
    GROUP BY value
)"""
_IDENTITY = f"if(l.label != '', l.label, {_DEVICE_KEY})"
# The events of the devices a query is about: an event of one of them has its first id among their ids,
# or none (an event of no device id is its user's, or no one's). A narrowing before FINAL's merge and the
# identity join (the first id is the same in every version of an event).
_OF_DEVICES = f"({_ALL_DEVICES} OR device_id = '' OR has({{devices:Array(String)}}, device_id))"
# The probabilistic signals, every one of them required: a key only when none is empty.
_FINGERPRINT = (
    "if(ip_prefix = '' OR os_name = '' OR os_version = '', '', concat(ip_prefix, '|', lower(os_name), '|', os_version))"
)
_TIER_NAME = "multiIf(" + ", ".join(f"{{t}} = {tier}, '{name}'" for tier, name in TIERS.items()) + ", 'organic')"
_ZERO_UUID = "toUUID('00000000-0000-0000-0000-000000000000')"
_CONFIDENCE = "multiIf(" + " ".join(f"tier = {tier}, {value}," for tier, value in CONFIDENCE.items()) + " 0.)"


def parameters(
    *,
    app_id: uuid.UUID,
    rules: Rules,
    since: dt.datetime,
    until: dt.datetime,
    window: str = "timestamp",
    flood_sources: Iterable[str] = (),
    data_driven_weights: Mapping[str, float] | None = None,
    conversion_id: uuid.UUID | None = None,
    devices: Iterable[str] = (),
    scratch: str = "",
) -> dict:
    """Query parameters for conversions chosen by ``window`` between ``since`` and ``until``.

    By arrival (``inserted_at``) a conversion may be as old as ingestion accepts, so the history
    reaches back from there."""
    earliest = since if window != "inserted_at" else until - dt.timedelta(days=settings.INGEST_MAX_PAST_DAYS)
    # An explanation also shows the touches just outside the windows, and those after the conversion.
    margin = EXPLAIN_MARGIN if window == "conversion" else dt.timedelta(0)
    return {
        **rules.parameters(),
        "app_id": app_id,
        "since": since,
        "until": until,
        "conversion_id": conversion_id or uuid.UUID(int=0),
        "devices": sorted(devices),
        "scratch": scratch,
        "history_from": earliest - dt.timedelta(milliseconds=rules.history_ms),
        "history_until": until,
        "touches_from": earliest - dt.timedelta(milliseconds=rules.touch_lookback_ms) - margin,
        "touches_until": until + margin,
        "flood_sources": sorted(flood_sources),
        "data_driven_weights": dict(data_driven_weights or {}),
    }


def query_settings(**values) -> str:
    """The SETTINGS clause of an engine statement (values are numbers from code and settings)."""
    threads = settings.ATTRIBUTION_MAX_THREADS
    chosen = {**({"max_threads": threads} if threads else {}), **values}
    return ("SETTINGS " + ", ".join(f"{name} = {int(value)}" for name, value in chosen.items())) if chosen else ""


def tier_name(expression: str) -> str:
    return _TIER_NAME.format(t=expression)


def _history_events(window: str) -> str:
    """The history's events (``e``, with their labels ``l``), each row in its newest version as FINAL
    reads it. A run merges the rows of its period as it reads them (FINAL); an explanation, narrowed
    to one device, picks the newest version of that device's few rows instead: FINAL would merge every
    row of the period before the narrowing, which costs more than the rest of the explanation."""
    rows = f"""app_id = {{app_id:UUID}}
      AND timestamp >= {{history_from:DateTime64(3, 'UTC')}} AND timestamp < {{history_until:DateTime64(3, 'UTC')}}
      AND {_OF_DEVICES}"""
    if window == "conversion":
        return f"""(
        SELECT * FROM events PREWHERE {rows}
        ORDER BY inserted_at DESC LIMIT 1 BY app_id, event_name, timestamp, event_id
    ) AS e
    LEFT JOIN id_labels AS l ON e.device_id = l.value"""
    return f"""events AS e FINAL
    LEFT JOIN id_labels AS l ON e.device_id = l.value
    PREWHERE {rows}"""


def pipeline(window: str) -> str:
    """The matching CTEs up to ``candidates`` for conversions chosen by ``window``."""
    conversion_filter = WINDOW_FILTERS[window]
    return f"""
WITH
{_ID_LABELS},
window_devices AS (
    SELECT {_IDENTITY} AS identity FROM events AS e
    LEFT JOIN id_labels AS l ON e.device_id = l.value
    WHERE app_id = {{app_id:UUID}} AND event_name IN ({CONVERSION_NAMES}, {_REENGAGEMENT_NAMES})
      AND timestamp >= {{history_from:DateTime64(3, 'UTC')}} AND timestamp < {{history_until:DateTime64(3, 'UTC')}}
      AND ({conversion_filter}) AND identity != '' AND {_OF_DEVICES}
),
history AS (
    SELECT
        event_id, event_name, timestamp, inserted_at, user_id,
        {_DEVICE_KEY} AS device_key,
        {_IDENTITY} AS identity,
        mapValues(device_ids) AS device_values,
        toUUIDOrZero(attribution['click_id']) AS click_id,
        {_FINGERPRINT} AS fingerprint,
        event_name IN ({CONVERSION_NAMES}) AS is_install
    FROM {_history_events(window)}
    WHERE identity = '' OR identity IN (SELECT identity FROM window_devices)
),
sequenced AS (
    -- One window over each device's events (one sort): its latest earlier activity.
    SELECT *, max(toNullable(timestamp)) OVER earlier AS previous_activity
    FROM history
    WINDOW earlier AS (
        PARTITION BY identity ORDER BY timestamp, event_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    )
),
install_chains AS (
    -- Every install of the window's devices, however old (the install granules only, by the table's
    -- order), in time order, with the last install that counted as new at each: an install more than
    -- the re-attribution window after it counts as new again.
    SELECT
        {_IDENTITY} AS identity,
        arraySort(groupUniqArray((toUnixTimestamp64Milli(timestamp), event_id))) AS installs,
        arrayFold(
            (acc, x) -> arrayPushBack(acc, if(empty(acc) OR x.1 - acc[-1] > {{reattribution_ms:Int64}}, x.1, acc[-1])),
            installs,
            emptyArrayInt64()
        ) AS last_new
    FROM events AS e
    LEFT JOIN id_labels AS l ON e.device_id = l.value
    WHERE app_id = {{app_id:UUID}} AND event_name IN ({CONVERSION_NAMES})
      AND timestamp < {{history_until:DateTime64(3, 'UTC')}} AND {_OF_DEVICES}
      AND identity IN (SELECT identity FROM window_devices)
    GROUP BY identity
),
id_members AS (
    SELECT label, groupArray(value) AS members FROM id_labels GROUP BY label
),
window_events AS (
    SELECT * FROM sequenced
    WHERE ({conversion_filter}) AND (is_install OR (event_name IN ({_REENGAGEMENT_NAMES}) AND identity != ''))
),
conversions AS (
    SELECT
        e.event_id AS conversion_id,
        e.event_name AS conversion_name,
        e.timestamp AS conversion_time,
        e.device_key AS device_key, e.user_id AS user_id,
        -- every id of the device, those of this event first
        arrayDistinct(arrayConcat(e.device_values, m.members)) AS device_values,
        e.click_id AS click_id, e.fingerprint AS fingerprint,
        indexOf(c.installs, (toUnixTimestamp64Milli(e.timestamp), e.event_id)) AS position,
        multiIf(
            NOT e.is_install, 're_engagement',
            e.identity = '' OR position <= 1 OR c.last_new[position] = c.installs[position].1, 'install',
            'reinstall'
        ) AS conversion_kind,
        if(conversion_kind = 'install', NULL, e.previous_activity) AS touches_after
    FROM window_events AS e
    LEFT JOIN install_chains AS c ON e.identity = c.identity
    LEFT JOIN id_members AS m ON e.identity = m.label
    WHERE e.is_install
       OR (
        -- a re-engagement is of a device that installed before, after the inactivity window
        notEmpty(c.installs) AND c.installs[1].1 < toUnixTimestamp64Milli(e.timestamp)
        AND (
            e.previous_activity IS NULL
            OR dateDiff('millisecond', e.previous_activity, e.timestamp) >= {{inactivity_ms:Int64}}
        )
      )
),
conversion_keys AS (
    -- Key 0 matches no touch: it keeps every conversion in the (right) join, organic ones included.
    SELECT conversion_id, conversion_name, conversion_kind, conversion_time, device_key, user_id, touches_after, key
    FROM conversions
    ARRAY JOIN arrayConcat([0], arrayFilter(k -> k != 0, arrayConcat(
        [if(click_id = {_ZERO_UUID}, 0, cityHash64(1, click_id))],
        arrayMap(v -> cityHash64(2, v), device_values),
        [if({{probabilistic:Bool}} AND fingerprint != '', cityHash64(3, fingerprint), 0)]
    ))) AS key
),
named_clicks AS (
    SELECT toUUIDOrZero(attribution['click_id']) AS touch_id FROM events
    WHERE app_id = {{app_id:UUID}} AND attribution['click_id'] != ''
      AND timestamp >= {{history_from:DateTime64(3, 'UTC')}} AND timestamp < {{history_until:DateTime64(3, 'UTC')}}
      AND {_OF_DEVICES}
),
touch_keys AS (
    -- One branch per kind of key; each reads only the touches that carry that kind.
    SELECT touch_id, touch_type, timestamp AS touch_time, media_source, campaign, link_code,
           2 AS kind, cityHash64(2, device_id) AS key
    FROM touchpoints
    PREWHERE app_id = {{app_id:UUID}} AND device_id != ''
      AND ({_ALL_DEVICES} OR has({{devices:Array(String)}}, device_id))
      AND timestamp >= {{touches_from:DateTime64(3, 'UTC')}} AND timestamp < {{touches_until:DateTime64(3, 'UTC')}}
    UNION ALL
    -- the other ids of touches that carry several (device_id is the first of them)
    SELECT touch_id, touch_type, timestamp, media_source, campaign, link_code, 2, cityHash64(2, device)
    FROM touchpoints
    ARRAY JOIN arrayFilter(v -> v != device_id, mapValues(device_ids)) AS device
    PREWHERE app_id = {{app_id:UUID}} AND device_ids.size0 > 1
      AND ({_ALL_DEVICES} OR hasAny(mapValues(device_ids), {{devices:Array(String)}}))
      AND timestamp >= {{touches_from:DateTime64(3, 'UTC')}} AND timestamp < {{touches_until:DateTime64(3, 'UTC')}}
    UNION ALL
    SELECT touch_id, touch_type, timestamp, media_source, campaign, link_code, 1, cityHash64(1, touch_id)
    FROM touchpoints
    PREWHERE app_id = {{app_id:UUID}} AND touch_type = 'click' AND touch_id IN (SELECT touch_id FROM named_clicks)
      AND timestamp >= {{touches_from:DateTime64(3, 'UTC')}} AND timestamp < {{touches_until:DateTime64(3, 'UTC')}}
    UNION ALL
    SELECT touch_id, touch_type, timestamp, media_source, campaign, link_code, 3, cityHash64(3, {_FINGERPRINT})
    FROM touchpoints
    PREWHERE {{probabilistic:Bool}} AND app_id = {{app_id:UUID}} AND ip_prefix != '' AND os_name != ''
      AND os_version != ''
      AND timestamp >= {{touches_from:DateTime64(3, 'UTC')}} AND timestamp < {{touches_until:DateTime64(3, 'UTC')}}
),
joined AS (
    SELECT
        c.conversion_id AS conversion_id, c.conversion_name AS conversion_name,
        c.conversion_kind AS conversion_kind, c.conversion_time AS conversion_time,
        c.device_key AS device_key, c.user_id AS user_id,
        t.touch_id AS touch_id, t.touch_type AS touch_type, t.touch_time AS touch_time,
        t.media_source AS media_source, t.campaign AS campaign, t.link_code AS link_code,
        t.touch_id != {_ZERO_UUID} AS matched,
        toUInt8(multiIf(
            t.kind = 1, 1,
            t.kind = 2 AND t.touch_type = 'click', 2,
            t.kind = 3 AND t.touch_type = 'click', 3,
            t.kind = 2, 4,
            5
        )) AS tier,
        dateDiff('millisecond', t.touch_time, c.conversion_time) AS age_ms,
        multiIf(tier <= 2, {{click_ms:Int64}}, tier = 3, {{probabilistic_click_ms:Int64}},
                tier = 4, {{view_ms:Int64}}, {{probabilistic_view_ms:Int64}}) AS window_ms,
        matched AND age_ms >= 0 AND age_ms <= window_ms
            AND (c.touches_after IS NULL OR t.touch_time > c.touches_after)
            AND (c.conversion_kind = 'install' OR tier <= 2) AS eligible
    FROM touch_keys AS t
    RIGHT JOIN conversion_keys AS c ON t.key = c.key
),
candidates AS (
    SELECT
        conversion_id,
        any(conversion_name) AS conversion_name,
        any(conversion_kind) AS conversion_kind,
        any(conversion_time) AS conversion_time,
        any(device_key) AS device_key,
        any(user_id) AS user_id,
        -- by touch, best tier first; a touch matched by several keys (or stored twice) counts once
        arraySort(x -> (x.2, x.3), groupArrayIf(
            (touch_time, touch_id, tier, touch_type, media_source, campaign, link_code), eligible
        )) AS matched_touches,
        arrayFilter(
            (x, i) -> i = 1 OR x.2 != matched_touches[i - 1].2, matched_touches, arrayEnumerate(matched_touches)
        ) AS touches
    FROM joined
    GROUP BY conversion_id
)
"""


SCRATCH_PREFIX = "attribution_scratch_"
# A run's matched conversions: they live as long as the run, so in memory, in a table of its own.
CREATE_SCRATCH = """
CREATE TABLE {scratch:Identifier}
(
    conversion_id UUID,
    conversion_name LowCardinality(String),
    conversion_kind LowCardinality(String),
    conversion_time DateTime64(3, 'UTC'),
    device_key String,
    user_id String,
    touches Array(Tuple(
        DateTime64(3, 'UTC'), UUID, UInt8, LowCardinality(String), LowCardinality(String), String, String
    ))
)
ENGINE = Memory
"""
DROP_SCRATCH = "DROP TABLE IF EXISTS {scratch:Identifier}"
SCRATCH_TABLES = f"""
SELECT name FROM system.tables WHERE database = currentDatabase() AND startsWith(name, '{SCRATCH_PREFIX}')
"""


def insert_candidates(window: str) -> str:
    """Every conversion chosen by ``window`` with its matched touches, into the run's scratch table."""
    return (
        "INSERT INTO {scratch:Identifier}\n"
        + pipeline(window)
        + """
SELECT
    conversion_id, conversion_name,
    -- a reinstall after a retargeting click is re-attributed to it
    if(conversion_kind = 'reinstall' AND notEmpty(touches), 'reattribution', conversion_kind) AS kind,
    conversion_time, device_key, user_id, touches
FROM candidates
WHERE NOT (conversion_kind = 're_engagement' AND empty(touches))
"""
        + query_settings()
    )


def decided() -> str:
    """The waterfall over one run's scratch rows (conversion times in [since, until))."""
    return """
WITH decided AS (
    SELECT
        conversion_id, conversion_name, conversion_kind, conversion_time, device_key, user_id,
        arrayMap(
            x -> tuple(x.1, x.2, x.3, x.4, x.5, x.6, x.7, multiIf(
                x.4 = 'click' AND dateDiff('millisecond', x.1, conversion_time) < {min_ctit_ms:Int64},
                    'click_injection',
                x.4 = 'click' AND has({flood_sources:Array(String)}, x.5), 'click_flooding',
                ''
            )),
            touches
        ) AS flagged,
        if(empty(flagged), 0, arrayMin(x -> x.3, flagged)) AS first_tier,
        arrayReverseSort(x -> (x.1, x.2), arrayFilter(x -> x.3 = first_tier, flagged)) AS first_winners,
        if(first_tier = 0, '', first_winners[1].8) AS flag,
        if({reject_fraud:Bool}, arrayFilter(x -> x.8 = '', flagged), flagged) AS usable,
        if(empty(usable), 0, arrayMin(x -> x.3, usable)) AS tier,
        arraySort(
            x -> (x.1, x.2),
            arrayFilter(x -> if(x.3 <= 2, 2, x.3) = if(tier <= 2, 2, tier), usable)
        ) AS path,
        arrayReverseSort(x -> (x.1, x.2), arrayFilter(x -> x.3 = tier, usable))[1] AS winner,
        indexOf(path, winner) AS winner_index
    FROM {scratch:Identifier}
    WHERE conversion_time >= {since:DateTime64(3, 'UTC')} AND conversion_time < {until:DateTime64(3, 'UTC')}
)
"""


_MODEL_NAMES = ", ".join(f"'{model}'" for model in MODELS)

RESULT_COLUMNS = (
    "app_id, conversion_id, conversion_name, conversion_kind, conversion_time, conversion_date, "
    "device_key, user_id, match_type, touch_id, touch_type, touch_time, media_source, campaign, link_code, "
    "ctit_seconds, confidence, fraud_status, rejection_reason, rejected_touch_id, settings_version, "
    "path.touch_id, path.touch_type, path.touch_time, path.media_source, path.campaign, path.link_code, "
    "path.match_type, credits, reengagement_window_end"
)


def insert_results() -> str:
    """One row per conversion, with every model's credits, from a run's scratch rows into ``attributions``."""
    return (
        f"INSERT INTO attributions ({RESULT_COLUMNS})\n"
        + decided()
        + f"""
, credited AS (
    SELECT
        *,
        length(path) AS n,
        arrayEnumerate(path) AS positions,
        arrayMap(x -> exp2(-dateDiff('millisecond', x.1, conversion_time) / {{half_life_ms:Float64}}), path)
            AS decay,
        arrayMap(x -> {{data_driven_weights:Map(String, Float64)}}[x.5], path) AS removal_effects,
        -- relative to the path's strongest channel: a path of one channel gets exactly 1/n, whatever the
        -- period's weights (w / (w + w + w) is not always exactly 1/3 in floating point)
        arrayMap(w -> w / arrayMax(removal_effects), removal_effects) AS relative_effects,
        -- in the order of MODELS
        [
            arrayMap(i -> if(i = winner_index, 1., 0.), positions),
            arrayMap(i -> if(i = 1, 1., 0.), positions),
            arrayMap(i -> 1. / n, positions),
            arrayMap(w -> w / arraySum(decay), decay),
            arrayMap(i -> multiIf(n = 1, 1., n = 2, 0.5, i = 1 OR i = n, 0.4, 0.2 / (n - 2)), positions),
            if(arraySum(removal_effects) > 0,
               arrayMap(w -> w / arraySum(relative_effects), relative_effects),
               arrayMap(i -> 1. / n, positions))
        ] AS credits_by_model
    FROM decided
)
SELECT
    {{app_id:UUID}} AS app_id,
    conversion_id,
    conversion_name,
    -- a re-attribution whose every touch fraud rejected stays an (unattributed) reinstall
    if(conversion_kind = 'reattribution' AND tier = 0, 'reinstall', conversion_kind) AS kind,
    conversion_time,
    toDate(conversion_time, {{timezone:String}}) AS conversion_date,
    device_key,
    user_id,
    multiIf(kind = 'reinstall', 'reinstall', {tier_name("tier")}) AS match_type,
    if(tier = 0, {_ZERO_UUID}, winner.2) AS touch_id,
    if(tier = 0, '', winner.4) AS touch_type,
    if(tier = 0, NULL, winner.1) AS touch_time,
    if(tier = 0, '', winner.5) AS media_source,
    if(tier = 0, '', winner.6) AS campaign,
    if(tier = 0, '', winner.7) AS link_code,
    if(tier = 0, NULL, dateDiff('millisecond', winner.1, conversion_time) / 1000.) AS ctit_seconds,
    toFloat32({_CONFIDENCE}) AS confidence,
    multiIf(flag = '', '', {{reject_fraud:Bool}}, 'rejected', 'flagged') AS fraud_status,
    flag AS rejection_reason,
    if(flag = '', {_ZERO_UUID}, first_winners[1].2) AS rejected_touch_id,
    {{settings_version:UInt32}} AS settings_version,
    arrayMap(x -> x.2, path) AS `path.touch_id`,
    arrayMap(x -> x.4, path) AS `path.touch_type`,
    arrayMap(x -> x.1, path) AS `path.touch_time`,
    arrayMap(x -> x.5, path) AS `path.media_source`,
    arrayMap(x -> x.6, path) AS `path.campaign`,
    arrayMap(x -> x.7, path) AS `path.link_code`,
    arrayMap(x -> {tier_name("x.3")}, path) AS `path.match_type`,
    mapFromArrays([{_MODEL_NAMES}], credits_by_model) AS credits,
    -- until then the device's in-app revenue is the retargeting touch's (dashboard.analytics)
    if(kind IN ({RETARGETING}) AND tier != 0,
       conversion_time + toIntervalMillisecond({{reengagement_window_ms:Int64}}), NULL) AS reengagement_window_end
FROM credited
"""
        # Each conversion appears once per insert: merging the block on insert would only cost time.
        + query_settings(optimize_on_insert=0)
    )


def winners_by_source() -> str:
    """Per media source: attributed click installs and how many came within an hour of the click,
    before any fraud decision (no flooding sources, flag policy) — the input of the flooding test."""
    return (
        decided()
        + f"""
SELECT
    winner.5 AS media_source,
    count() AS installs,
    countIf(dateDiff('millisecond', winner.1, conversion_time) <= 3600000) AS within_hour
FROM decided
WHERE tier BETWEEN 1 AND 3 AND conversion_kind IN ({NEW_INSTALLS})
GROUP BY media_source
"""
        + query_settings()
    )


def conversion_devices() -> str:
    """Every id of the device one conversion (``{conversion_id}``, between ``{since}`` and ``{until}``)
    is of: its event's ids, its identity and the ids labelled as it — what an explanation narrows its
    pipeline to (``devices``). '' alone for a conversion of no device, which narrows it to the events of
    no device id."""
    return f"""
WITH {_ID_LABELS},
conversion AS (
    SELECT {_IDENTITY} AS identity, mapValues(device_ids) AS ids FROM events AS e
    LEFT JOIN id_labels AS l ON e.device_id = l.value
    WHERE app_id = {{app_id:UUID}} AND event_name IN ({CONVERSION_NAMES}, {_REENGAGEMENT_NAMES})
      AND timestamp >= {{since:DateTime64(3, 'UTC')}} AND timestamp < {{until:DateTime64(3, 'UTC')}}
      AND {WINDOW_FILTERS["conversion"]}
)
SELECT arrayJoin(arrayConcat([identity], ids)) AS id FROM conversion
UNION ALL
SELECT value FROM id_labels WHERE label IN (SELECT identity FROM conversion WHERE identity != '')
"""


def explain_candidates() -> str:
    """Every touch that shares a key with one conversion, in or out of its window, with the reasons."""
    return (
        pipeline("conversion")
        + f"""
SELECT
    touch_id, any(touch_type) AS touch_type, any(touch_time) AS touch_time, any(media_source) AS media_source,
    any(campaign) AS campaign, any(link_code) AS link_code, any(age_ms) AS age_ms,
    min(tier) AS best_tier, {tier_name("best_tier")} AS match_type,
    groupUniqArray({tier_name("tier")}) AS matched_by,
    max(eligible) AS in_window,
    argMin(window_ms, tier) AS best_window_ms
FROM joined
WHERE matched
GROUP BY touch_id
ORDER BY touch_time, touch_id
"""
    )
