"""Why one conversion was attributed the way it was: the report behind the explanation API."""

import datetime as dt
import uuid

from apps_registry.models import App, AttributionSettings
from apps_registry.services import settings_current
from core import clickhouse
from events.attribution_engine import sql
from events.attribution_engine.rules import HOUR_MS, MODELS, TIERS, Rules

RESULTS_SQL = """
SELECT conversion_name, conversion_kind, conversion_time, conversion_date, match_type, touch_id,
       ctit_seconds, confidence, fraud_status, rejection_reason, rejected_touch_id, settings_version,
       path.touch_id, path.match_type, credits, computed_at
FROM attributions FINAL
WHERE app_id = {app_id:UUID} AND conversion_id = {conversion_id:UUID}
"""
# The click id a conversion carried (as the engine reads it), and when the click it names was stored.
CLICK_ID_SQL = """
SELECT attribution['click_id'] AS click_id, toUUIDOrZero(click_id) AS touch_id FROM events
WHERE app_id = {app_id:UUID} AND event_id = {conversion_id:UUID} AND click_id != ''
LIMIT 1
"""
CLICKED_AT_SQL = """
SELECT minOrNull(timestamp) FROM touchpoints
WHERE app_id = {app_id:UUID} AND touch_type = 'click' AND touch_id = {touch_id:UUID}
"""
_NO_TOUCH = uuid.UUID(int=0)


def _rules(app: App, version: int) -> Rules:
    stored = AttributionSettings.objects.filter(app=app, version=version).first()
    return Rules.of(app, stored or settings_current(app=app))


def _hours(ms: int) -> str:
    return f"{ms / HOUR_MS:g} h"


_TIER_RANK = {name: tier for tier, name in TIERS.items()}
# A match type (tier) as people read it: the pages and the ``why`` texts.
MATCH_TYPES = {
    "click_id": "click id",
    "device_click": "device-id click",
    "probabilistic_click": "probabilistic click",
    "device_impression": "device-id impression",
    "probabilistic_impression": "probabilistic impression",
    "organic": "organic",
    "reinstall": "reinstall",
}
assert set(TIERS.values()) <= set(MATCH_TYPES), "every tier of the engine has a name here"


def named(tier: str) -> str:
    """A match type as people read it (``MATCH_TYPES``)."""
    return MATCH_TYPES.get(tier, tier)


def _candidate_reason(candidate: dict, on_path: set, winners: set, tier: str, fraud_status: str) -> str:
    age_ms, window_ms = candidate["age_ms"], candidate["best_window_ms"]
    if age_ms < 0:
        return "after the conversion: a touch must come first"
    if not candidate["in_window"]:
        if age_ms > window_ms:
            return f"outside its window: {_hours(age_ms)} before the conversion, the window is {_hours(window_ms)}"
        return "not eligible: a re-engagement needs a deterministic click after the last activity"
    if candidate["touch_id"] in winners:
        return f"winner: the strongest match found ({named(tier)}), the latest touch matched that way"
    if candidate["touch_id"] in on_path:
        return "on the path: shares the credit under multi-touch models"
    if candidate["best_tier"] > _TIER_RANK.get(tier, len(TIERS) + 1):
        return f"matched as {named(candidate['match_type'])}, but a {named(tier)} is a stronger match"
    # An eligible touch at least as good as the winner is off the path only when fraud rejected it.
    return f"dropped: the app rejects touches flagged as fraud ({fraud_status or 'flagged'})"


def _click_id(*, app: App, conversion_id: uuid.UUID, conversion_time: dt.datetime, candidates: list) -> dict | None:
    """The click id the conversion carried, whether it matched a click, and why not when it did not."""
    found = clickhouse.execute(
        CLICK_ID_SQL, {"app_id": app.id, "conversion_id": conversion_id}, tag="attribution_explain_click_id"
    )
    if not found.rows:
        return None
    value, touch_id = found.rows[0]
    clicked_at = None
    if touch_id != _NO_TOUCH:
        clicked_at = clickhouse.execute(
            CLICKED_AT_SQL, {"app_id": app.id, "touch_id": touch_id}, tag="attribution_explain_click"
        ).scalar()
    matched = any(c["touch_id"] == touch_id for c in candidates)
    if touch_id == _NO_TOUCH:
        why = "matched nothing: not a click id of this platform (ours are the UUIDs its tracking links hand out)"
    elif clicked_at is None:
        why = "matched nothing: no click of this app has this id (another app's click, or one past retention)"
    elif matched:
        why = "matched its click, listed among the candidates"
    else:
        age_ms = (conversion_time - clicked_at) // dt.timedelta(milliseconds=1)
        why = f"matched nothing: its click came {_hours(age_ms)} before the conversion, outside the lookback"
    return {"value": value, "matched": matched, "why": why}


def conversion_explanation(*, app: App, conversion_id: uuid.UUID) -> dict | None:
    """Every model's result for one conversion, the touches that were considered and why each did or
    did not get credit. None when the engine has not attributed this event (yet)."""
    result = clickhouse.execute(
        RESULTS_SQL, {"app_id": app.id, "conversion_id": conversion_id}, tag="attribution_explain_results"
    )
    if not result.rows:
        return None
    last = dict(zip(result.columns, result.rows[0], strict=True))
    rules = _rules(app, last["settings_version"])
    conversion_time: dt.datetime = last["conversion_time"]
    params = sql.parameters(
        app_id=app.id,
        rules=rules,
        since=conversion_time,
        until=conversion_time + dt.timedelta(milliseconds=1),
        window="conversion",
        conversion_id=conversion_id,
    )
    # Narrowed to the conversion's device (every id of it; '' alone: a conversion of no device id): the
    # same matches, read from its rows only.
    ids = clickhouse.execute(sql.conversion_devices(), params, tag="attribution_explain_devices").rows
    params["devices"] = sorted({value for (value,) in ids})
    found = clickhouse.execute(sql.explain_candidates(), params, tag="attribution_explain_candidates")
    candidates = [dict(zip(found.columns, row, strict=True)) for row in found.rows]
    on_path = set(last["path.touch_id"])
    winners = {last["touch_id"]} - {_NO_TOUCH}
    tier = last["match_type"]
    return {
        "conversion": {
            "id": str(conversion_id),
            "name": last["conversion_name"],
            "kind": last["conversion_kind"],
            "time": conversion_time.isoformat(),
            "date": last["conversion_date"].isoformat(),
            "computedAt": last["computed_at"].isoformat(),
            "clickId": _click_id(
                app=app, conversion_id=conversion_id, conversion_time=conversion_time, candidates=candidates
            ),
        },
        "rules": rules.describe(),
        "decision": {
            "matchType": tier,
            "touchId": str(last["touch_id"]) if last["touch_id"] != _NO_TOUCH else None,
            "ctitSeconds": last["ctit_seconds"],
            "confidence": last["confidence"],
            "fraudStatus": last["fraud_status"],
            "rejectionReason": last["rejection_reason"],
            "rejectedTouchId": str(last["rejected_touch_id"]) if last["rejected_touch_id"] != _NO_TOUCH else None,
        },
        "candidates": [
            {
                "touchId": str(c["touch_id"]),
                "type": c["touch_type"],
                "time": c["touch_time"].isoformat(),
                "mediaSource": c["media_source"],
                "campaign": c["campaign"],
                "linkCode": c["link_code"],
                "matchType": c["match_type"],
                "matchedBy": sorted(c["matched_by"]),
                "secondsBeforeConversion": c["age_ms"] / 1000,
                "windowSeconds": c["best_window_ms"] / 1000,
                "inWindow": bool(c["in_window"]),
                "onPath": c["touch_id"] in on_path,
                "why": _candidate_reason(c, on_path, winners, tier, last["fraud_status"]),
            }
            for c in candidates
        ],
        "models": {
            model: [
                {"touchId": str(touch), "credit": credit, "matchType": match}
                for touch, credit, match in zip(
                    last["path.touch_id"], last["credits"][model], last["path.match_type"], strict=True
                )
            ]
            for model in MODELS
            if model in last["credits"]
        },
    }


DEVICE_CONVERSIONS_SQL = """
SELECT conversion_id, conversion_name, conversion_kind, conversion_time, match_type, media_source, campaign,
       fraud_status
FROM attributions FINAL
WHERE app_id = {app_id:UUID}
  AND (device_key = {device_id:String} OR conversion_id IN (
      SELECT event_id FROM events
      WHERE app_id = {app_id:UUID}
        AND (device_id = {device_id:String} OR has(mapValues(device_ids), {device_id:String}))
  ))
ORDER BY conversion_time DESC, conversion_id
LIMIT {limit:UInt32}
"""


def device_conversions(*, app: App, device_id: str, limit: int) -> list[dict]:
    """The attributed conversions of one device, the latest first: those the engine keyed to this id,
    and those whose event carried it among its ids (a device known by several ids is found by any)."""
    result = clickhouse.execute(
        DEVICE_CONVERSIONS_SQL,
        {"app_id": app.id, "device_id": device_id, "limit": limit},
        tag="dashboard.device_conversions",
    )
    return [
        {
            "conversionId": str(conversion_id),
            "name": name,
            "kind": kind,
            "time": time,
            "matchType": match_type,
            "mediaSource": media_source,
            "campaign": campaign,
            "fraudStatus": fraud_status,
        }
        for conversion_id, name, kind, time, match_type, media_source, campaign, fraud_status in result.rows
    ]
