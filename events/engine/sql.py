"""The attribution pipeline as ClickHouse SQL. Python only fills in parameters.

Stages (CTEs), each a step a person can check:

1. ``history``/``sequenced``: the app's install and activity events, each with the previous install and
   the previous activity of the same device (window functions).
2. ``conversions``: installs (new, a reinstall inside the re-attribution window, or a re-attribution
   after it) and re-engagements (an open after the inactivity window).
3. ``conversion_keys`` / ``touch_keys``: the match keys of each side — ``c:<click id>``,
   ``d:<pseudonymous device id>``, ``p:<ip prefix|os|version>`` (probabilistic, only when enabled).
   One hash join on the key replaces five joins, one per waterfall tier.
4. ``joined``: every (conversion, touch) sharing a key, with its tier and age; ``matches``: those
   inside their tier's window, one row per touch with its best tier and fraud flag.
5. ``decided``: per conversion, the waterfall — the best tier wins; the path is every matched touch of
   the winning kind (deterministic clicks, probabilistic clicks, device impressions or probabilistic
   impressions), in time order; flagged touches are dropped first when the app rejects fraud.
6. ``credited``: one credit array per model over that path; the final SELECT has one row per model.

Touch tuples in arrays are (time, touch_id, tier, type, media_source, campaign, link_code, flag).
"""

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping

from django.conf import settings

from .rules import CONFIDENCE, CONVERSION_EVENTS, MODELS, REENGAGEMENT_EVENTS, TIERS, Rules

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
_CONVERSION_NAMES = ", ".join(f"'{name}'" for name in CONVERSION_EVENTS)
_REENGAGEMENT_NAMES = ", ".join(f"'{name}'" for name in REENGAGEMENT_EVENTS)
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
        "history_from": earliest - dt.timedelta(milliseconds=rules.history_ms),
        "history_until": until + margin,
        "touches_from": earliest - dt.timedelta(milliseconds=rules.touch_lookback_ms) - margin,
        "flood_sources": sorted(flood_sources),
        "data_driven_weights": dict(data_driven_weights or {}),
    }


def tier_name(expression: str) -> str:
    return _TIER_NAME.format(t=expression)


def pipeline(window: str) -> str:
    """The CTEs up to ``decided`` for conversions chosen by ``window`` (a WINDOW_FILTERS key)."""
    conversion_filter = WINDOW_FILTERS[window]
    return f"""
WITH
history AS (
    SELECT
        event_id, event_name, timestamp, inserted_at, user_id,
        if(device_id != '', device_id, user_id) AS device_key,
        mapValues(device_ids) AS device_values,
        lower(replaceAll(attribution['click_id'], '-', '')) AS click_id,
        if(ip_prefix = '', '', concat(ip_prefix, '|', lower(os_name), '|', os_version)) AS fingerprint,
        event_name IN ({_CONVERSION_NAMES}) AS is_install
    FROM events FINAL
    WHERE app_id = {{app_id:UUID}}
      AND timestamp >= {{history_from:DateTime64(3, 'UTC')}}
      AND timestamp < {{history_until:DateTime64(3, 'UTC')}}
),
sequenced AS (
    SELECT
        *,
        lagInFrame(toNullable(timestamp), 1, NULL) OVER (
            PARTITION BY device_key, is_install ORDER BY timestamp, event_id
            ROWS BETWEEN 1 PRECEDING AND CURRENT ROW
        ) AS previous_same_kind,
        lagInFrame(toNullable(timestamp), 1, NULL) OVER (
            PARTITION BY device_key ORDER BY timestamp, event_id
            ROWS BETWEEN 1 PRECEDING AND CURRENT ROW
        ) AS previous_activity
    FROM history
),
conversions AS (
    SELECT
        event_id AS conversion_id,
        event_name AS conversion_name,
        timestamp AS conversion_time,
        device_key, user_id, device_values, click_id, fingerprint,
        multiIf(
            NOT is_install, 're_engagement',
            device_key = '' OR previous_same_kind IS NULL, 'install',
            dateDiff('millisecond', previous_same_kind, timestamp) <= {{reattribution_ms:Int64}}, 'reinstall',
            'reattribution'
        ) AS conversion_kind,
        if(is_install, NULL, previous_activity) AS touches_after
    FROM sequenced
    WHERE ({conversion_filter})
      AND (
        is_install
        OR (
            event_name IN ({_REENGAGEMENT_NAMES}) AND device_key != '' AND previous_activity IS NOT NULL
            AND dateDiff('millisecond', previous_activity, timestamp) >= {{inactivity_ms:Int64}}
        )
      )
),
conversion_keys AS (
    SELECT conversion_id, conversion_time, conversion_kind, touches_after, key
    FROM conversions
    ARRAY JOIN arrayFilter(k -> k != '', arrayConcat(
        [if(click_id = '', '', concat('c:', click_id))],
        arrayMap(v -> concat('d:', v), device_values),
        [if({{probabilistic:Bool}} AND fingerprint != '', concat('p:', fingerprint), '')]
    )) AS key
    WHERE conversion_kind != 'reinstall'
),
touch_keys AS (
    SELECT touch_id, touch_type, timestamp AS touch_time, media_source, campaign, link_code, key
    FROM touchpoints FINAL
    ARRAY JOIN arrayFilter(k -> k != '', arrayConcat(
        [if(touch_type = 'click', concat('c:', replaceAll(toString(touch_id), '-', '')), '')],
        arrayMap(v -> concat('d:', v), mapValues(device_ids)),
        [if({{probabilistic:Bool}} AND ip_prefix != '',
            concat('p:', ip_prefix, '|', lower(os_name), '|', os_version), '')]
    )) AS key
    WHERE app_id = {{app_id:UUID}}
      AND timestamp >= {{touches_from:DateTime64(3, 'UTC')}}
      AND timestamp < {{history_until:DateTime64(3, 'UTC')}}
),
joined AS (
    SELECT
        c.conversion_id AS conversion_id, c.conversion_time AS conversion_time,
        c.conversion_kind AS conversion_kind, c.touches_after AS touches_after,
        t.touch_id AS touch_id, t.touch_type AS touch_type, t.touch_time AS touch_time,
        t.media_source AS media_source, t.campaign AS campaign, t.link_code AS link_code,
        multiIf(
            startsWith(key, 'c:'), 1,
            startsWith(key, 'd:') AND t.touch_type = 'click', 2,
            startsWith(key, 'p:') AND t.touch_type = 'click', 3,
            startsWith(key, 'd:'), 4,
            5
        ) AS tier,
        dateDiff('millisecond', t.touch_time, c.conversion_time) AS age_ms,
        multiIf(tier <= 2, {{click_ms:Int64}}, tier = 3, {{probabilistic_click_ms:Int64}},
                tier = 4, {{view_ms:Int64}}, {{probabilistic_view_ms:Int64}}) AS window_ms,
        age_ms >= 0 AND age_ms <= window_ms
            AND (c.touches_after IS NULL OR t.touch_time > c.touches_after)
            AND (c.conversion_kind != 're_engagement' OR tier <= 2) AS eligible
    FROM touch_keys AS t
    INNER JOIN conversion_keys AS c ON t.key = c.key
),
matches AS (
    SELECT
        conversion_id, touch_id,
        any(touch_type) AS touch_type, any(touch_time) AS touch_time, any(media_source) AS media_source,
        any(campaign) AS campaign, any(link_code) AS link_code, any(age_ms) AS age_ms,
        min(tier) AS tier,
        multiIf(
            touch_type = 'click' AND age_ms < {{min_ctit_ms:Int64}}, 'click_injection',
            touch_type = 'click' AND has({{flood_sources:Array(String)}}, media_source), 'click_flooding',
            ''
        ) AS flag
    FROM joined
    WHERE eligible
    GROUP BY conversion_id, touch_id
),
candidates AS (
    SELECT
        conversion_id,
        groupArray((touch_time, touch_id, tier, touch_type, media_source, campaign, link_code, flag)) AS touches
    FROM matches
    GROUP BY conversion_id
),
decided AS (
    SELECT
        c.conversion_id AS conversion_id, c.conversion_name AS conversion_name,
        c.conversion_kind AS conversion_kind, c.conversion_time AS conversion_time,
        c.device_key AS device_key, c.user_id AS user_id,
        k.touches AS touches,
        if(empty(touches), 0, arrayMin(x -> x.3, touches)) AS first_tier,
        arrayReverseSort(x -> (x.1, x.2), arrayFilter(x -> x.3 = first_tier, touches)) AS first_winners,
        if(first_tier = 0, '', first_winners[1].8) AS flag,
        if({{reject_fraud:Bool}}, arrayFilter(x -> x.8 = '', touches), touches) AS usable,
        if(empty(usable), 0, arrayMin(x -> x.3, usable)) AS tier,
        arraySort(
            x -> (x.1, x.2),
            arrayFilter(x -> if(x.3 <= 2, 2, x.3) = if(tier <= 2, 2, tier), usable)
        ) AS path,
        arrayReverseSort(x -> (x.1, x.2), arrayFilter(x -> x.3 = tier, usable))[1] AS winner,
        indexOf(path, winner) AS winner_index
    FROM conversions AS c
    LEFT JOIN candidates AS k ON c.conversion_id = k.conversion_id
    WHERE NOT (c.conversion_kind = 're_engagement' AND empty(k.touches))
)
"""


_MODEL_NAMES = ", ".join(f"'{model}'" for model in MODELS)

RESULT_COLUMNS = (
    "app_id, model, conversion_id, conversion_name, conversion_kind, conversion_time, conversion_date, "
    "device_key, user_id, match_type, touch_id, touch_type, touch_time, media_source, campaign, link_code, "
    "ctit_seconds, confidence, fraud_status, rejection_reason, rejected_touch_id, settings_version, "
    "path.touch_id, path.touch_type, path.touch_time, path.media_source, path.campaign, path.link_code, "
    "path.match_type, path.credit"
)


def results(window: str) -> str:
    """One row per (conversion, model): the SELECT that ``INSERT INTO attributions`` takes."""
    return (
        pipeline(window)
        + f"""
, credited AS (
    SELECT
        *,
        length(path) AS n,
        arrayEnumerate(path) AS positions,
        arrayMap(x -> exp2(-dateDiff('millisecond', x.1, conversion_time) / {{half_life_ms:Float64}}), path)
            AS decay,
        arrayMap(x -> {{data_driven_weights:Map(String, Float64)}}[x.5], path) AS removal_effects,
        [
            arrayMap(i -> if(i = winner_index, 1., 0.), positions),
            arrayMap(i -> if(i = 1, 1., 0.), positions),
            arrayMap(i -> 1. / n, positions),
            arrayMap(w -> w / arraySum(decay), decay),
            arrayMap(i -> multiIf(n = 1, 1., n = 2, 0.5, i = 1 OR i = n, 0.4, 0.2 / (n - 2)), positions),
            if(arraySum(removal_effects) > 0,
               arrayMap(w -> w / arraySum(removal_effects), removal_effects),
               arrayMap(i -> 1. / n, positions))
        ] AS credits_by_model
    FROM decided
)
SELECT
    {{app_id:UUID}} AS app_id,
    model,
    conversion_id,
    conversion_name,
    conversion_kind,
    conversion_time,
    toDate(conversion_time, {{timezone:String}}) AS conversion_date,
    device_key,
    user_id,
    multiIf(conversion_kind = 'reinstall', 'reinstall', {tier_name("tier")}) AS match_type,
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
    credits AS `path.credit`
FROM credited
ARRAY JOIN [{_MODEL_NAMES}] AS model, credits_by_model AS credits
"""
    )


def insert_results(window: str) -> str:
    return f"INSERT INTO attributions ({RESULT_COLUMNS})\n" + results(window)


def winners_by_source(window: str) -> str:
    """Per media source: attributed click installs and how many came within an hour of the click,
    before any fraud decision — the input of the click-flooding test."""
    return (
        pipeline(window)
        + """
SELECT
    winner.5 AS media_source,
    count() AS installs,
    countIf(dateDiff('millisecond', winner.1, conversion_time) <= 3600000) AS within_hour
FROM decided
WHERE tier BETWEEN 1 AND 3 AND conversion_kind IN ('install', 'reattribution')
GROUP BY media_source
"""
    )


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
GROUP BY touch_id
ORDER BY touch_time, touch_id
"""
    )
