"""The attribution engine, scenario by scenario, with results computed by hand.

Each scenario puts touches and events into ClickHouse for a fresh app, runs the engine over a window
around the conversion under test (``conv``), and compares the stored result of every model.
Defaults: click lookback 7 d, view-through 24 h, probabilistic off (24 h), re-attribution 90 d,
re-engagement inactivity 7 d, time-decay half-life 7 d, minimum CTIT 10 s, fraud policy "flag".
"""

import datetime as dt
import uuid
from dataclasses import dataclass, field

import pytest

from apps_registry import services as app_services
from tests import attribution_data as data
from tests.factories import AppFactory

T = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
S = dt.timedelta(seconds=1)
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
GAID = {"gaid": "dev-1"}
FINGERPRINT = {"ip": "203.0.113.0", "os": "android", "os_version": "15"}
MODELS = ("last_touch", "first_touch", "linear", "time_decay", "position_based", "data_driven")


def click(label, ago, source="meta", **extra):
    return {"label": label, "type": "click", "ago": ago, "source": source, **extra}


def impression(label, ago, source="meta", **extra):
    return {"label": label, "type": "impression", "ago": ago, "source": source, **extra}


def event(label, ago=dt.timedelta(0), name="install", **extra):
    return {"label": label, "name": name, "ago": ago, **extra}


@dataclass
class Scenario:
    name: str
    touches: list
    events: list
    match_type: str | None  # None: ``conv`` is no conversion at all
    winner: str | None = None
    path: tuple = ()
    kind: str = "install"
    credits: dict = field(default_factory=dict)  # model -> {label: credit}
    settings: dict = field(default_factory=dict)
    fraud: tuple = ("", "", None)  # (status, reason, rejected touch label)
    timezone: str = "UTC"
    at: dt.datetime = T
    conversion_date: dt.date | None = None


SCENARIOS = [
    # --- the waterfall, tier by tier -------------------------------------------------------------
    Scenario("organic without touches", [], [event("conv", device_ids=GAID)], "organic"),
    Scenario(
        "click id from the referrer",
        [click("c", 2 * H)],
        [event("conv", click_id="c")],
        "click_id",
        "c",
        ("c",),
    ),
    Scenario(
        "device id click", [click("c", 2 * H, device_ids=GAID)], [event("conv", device_ids=GAID)], "device_click", "c"
    ),
    Scenario(
        "device id of another kind still matches",
        [click("c", 2 * H, device_ids={"android_id": "a-1"})],
        [event("conv", device_ids={"gaid": "g-1", "android_id": "a-1"})],
        "device_click",
        "c",
    ),
    Scenario(
        "probabilistic click when enabled",
        [click("c", 2 * H, **FINGERPRINT)],
        [event("conv", **FINGERPRINT)],
        "probabilistic_click",
        "c",
        settings={"probabilistic_enabled": True},
    ),
    Scenario(
        "probabilistic matching never on the IP prefix alone (no OS, no version on either side)",
        [click("c", 2 * H, ip="203.0.113.0")],
        [event("conv", ip="203.0.113.0")],
        "organic",
        settings={"probabilistic_enabled": True},
    ),
    Scenario(
        "probabilistic matching needs the OS version too",
        [impression("i", 2 * H, ip="203.0.113.0", os="android")],
        [event("conv", ip="203.0.113.0", os="android")],
        "organic",
        settings={"probabilistic_enabled": True},
    ),
    Scenario(
        "probabilistic click ignored when disabled",
        [click("c", 2 * H, **FINGERPRINT)],
        [event("conv", **FINGERPRINT)],
        "organic",
    ),
    Scenario(
        "device id impression (view-through)",
        [impression("i", 3 * H, device_ids=GAID)],
        [event("conv", device_ids=GAID)],
        "device_impression",
        "i",
    ),
    Scenario(
        "probabilistic impression when enabled",
        [impression("i", 3 * H, **FINGERPRINT)],
        [event("conv", **FINGERPRINT)],
        "probabilistic_impression",
        "i",
        settings={"probabilistic_enabled": True},
    ),
    Scenario(
        "click id beats a later device click; both are on the path",
        [click("old", 5 * H, click_id_only=True), click("new", 1 * H, device_ids=GAID, source="google")],
        [event("conv", click_id="old", device_ids=GAID)],
        "click_id",
        "old",
        ("old", "new"),
        credits={"last_touch": {"old": 1.0, "new": 0.0}, "first_touch": {"old": 1.0, "new": 0.0}},
    ),
    Scenario(
        "device click beats a later probabilistic click",
        [click("dev", 5 * H, device_ids=GAID), click("prob", 1 * H, source="google", **FINGERPRINT)],
        [event("conv", device_ids=GAID, **FINGERPRINT)],
        "device_click",
        "dev",
        ("dev",),
        settings={"probabilistic_enabled": True},
    ),
    Scenario(
        "a click beats a later impression",
        [click("c", 5 * H, device_ids=GAID), impression("i", 10 * 60 * S, device_ids=GAID, source="google")],
        [event("conv", device_ids=GAID)],
        "device_click",
        "c",
        ("c",),
    ),
    Scenario(
        "a touch after the conversion never counts",
        [click("after", -5 * S, device_ids=GAID)],
        [event("conv", device_ids=GAID)],
        "organic",
    ),
    # --- windows at their edges --------------------------------------------------------------------
    Scenario(
        "click exactly at the 7 d lookback",
        [click("c", 7 * D, device_ids=GAID)],
        [event("conv", device_ids=GAID)],
        "device_click",
        "c",
    ),
    Scenario(
        "click 1 s inside the lookback",
        [click("c", 7 * D - S, device_ids=GAID)],
        [event("conv", device_ids=GAID)],
        "device_click",
        "c",
    ),
    Scenario(
        "click 1 s outside the lookback",
        [click("c", 7 * D + S, device_ids=GAID)],
        [event("conv", device_ids=GAID)],
        "organic",
    ),
    Scenario("click id 1 s outside the lookback", [click("c", 7 * D + S)], [event("conv", click_id="c")], "organic"),
    Scenario(
        "impression exactly at the 24 h view-through window",
        [impression("i", 24 * H, device_ids=GAID)],
        [event("conv", device_ids=GAID)],
        "device_impression",
        "i",
    ),
    Scenario(
        "impression 1 s inside the view-through window",
        [impression("i", 24 * H - S, device_ids=GAID)],
        [event("conv", device_ids=GAID)],
        "device_impression",
        "i",
    ),
    Scenario(
        "impression 1 s outside the view-through window",
        [impression("i", 24 * H + S, device_ids=GAID)],
        [event("conv", device_ids=GAID)],
        "organic",
    ),
    Scenario(
        "a 2 h lookback setting: 1 s inside",
        [click("c", 2 * H - S, device_ids=GAID)],
        [event("conv", device_ids=GAID)],
        "device_click",
        "c",
        settings={"click_lookback_hours": 2},
    ),
    Scenario(
        "a 2 h lookback setting: 1 s outside",
        [click("c", 2 * H + S, device_ids=GAID)],
        [event("conv", device_ids=GAID)],
        "organic",
        settings={"click_lookback_hours": 2},
    ),
    Scenario(
        "probabilistic click exactly at its 24 h window",
        [click("c", 24 * H, **FINGERPRINT)],
        [event("conv", **FINGERPRINT)],
        "probabilistic_click",
        "c",
        settings={"probabilistic_enabled": True},
    ),
    Scenario(
        "probabilistic click 1 s outside its window (inside the click lookback)",
        [click("c", 24 * H + S, **FINGERPRINT)],
        [event("conv", **FINGERPRINT)],
        "organic",
        settings={"probabilistic_enabled": True},
    ),
    # --- reinstalls, re-attribution, re-engagement -----------------------------------------------
    Scenario(
        "reinstall inside the 90 d re-attribution window without a click is not a new install",
        [impression("i", 2 * H, device_ids=GAID)],
        [event("first", 30 * D, device_ids=GAID), event("conv", device_ids=GAID)],
        "reinstall",
        kind="reinstall",
    ),
    Scenario(
        "reinstall exactly at the re-attribution window is still a reinstall",
        [],
        [event("first", 90 * D, device_ids=GAID), event("conv", device_ids=GAID)],
        "reinstall",
        kind="reinstall",
    ),
    Scenario(
        "reinstall after a retargeting click is a re-attribution to the click's source",
        [click("retarget", 2 * H, device_ids=GAID, source="retargeter")],
        [event("first", 30 * D, device_ids=GAID), event("conv", device_ids=GAID)],
        "device_click",
        "retarget",
        kind="reattribution",
    ),
    Scenario(
        "reinstall exactly at the window after a click id is a re-attribution",
        [click("retarget", 2 * H, source="retargeter")],
        [event("first", 90 * D, device_ids=GAID), event("conv", device_ids=GAID, click_id="retarget")],
        "click_id",
        "retarget",
        kind="reattribution",
    ),
    Scenario(
        "reinstall after a click outside the click lookback stays a reinstall",
        [click("retarget", 7 * D + S, device_ids=GAID, source="retargeter")],
        [event("first", 30 * D, device_ids=GAID), event("conv", device_ids=GAID)],
        "reinstall",
        kind="reinstall",
    ),
    Scenario(
        "reinstall after a click the device was active after stays a reinstall",
        [click("retarget", 2 * D, device_ids=GAID, source="retargeter")],
        [
            event("first", 30 * D, device_ids=GAID),
            event("session", 1 * D, name="session_start", device_ids=GAID),
            event("conv", device_ids=GAID),
        ],
        "reinstall",
        kind="reinstall",
    ),
    Scenario(
        "install 1 s after the re-attribution window is a new install, attributed normally",
        [click("c", 2 * H, device_ids=GAID)],
        [event("first", 90 * D + S, device_ids=GAID), event("conv", device_ids=GAID)],
        "device_click",
        "c",
        kind="install",
    ),
    Scenario(
        "open after 7 d of inactivity with a retargeting click is a re-engagement",
        [click("retarget", 1 * H, device_ids=GAID, source="retargeter")],
        [
            event("first", 20 * D, device_ids=GAID),
            event("session", 7 * D + 2 * H, name="session_start", device_ids=GAID),
            event("conv", name="open", device_ids=GAID),
        ],
        "device_click",
        "retarget",
        kind="re_engagement",
    ),
    Scenario(
        "open before the inactivity window is no conversion",
        [click("retarget", 1 * H, device_ids=GAID)],
        [
            event("first", 20 * D, device_ids=GAID),
            event("session", 7 * D - S, name="session_start", device_ids=GAID),
            event("conv", name="open", device_ids=GAID),
        ],
        None,
    ),
    Scenario(
        "a re-engagement needs a touch after the last activity",
        [click("old", 8 * D + H, device_ids=GAID)],
        [event("first", 8 * D, device_ids=GAID), event("conv", name="open", device_ids=GAID)],
        None,
        settings={"click_lookback_hours": 30 * 24},
    ),
    # --- models over a path --------------------------------------------------------------------------
    Scenario(
        "three clicks under every model",
        [
            click("a", 3 * D, "meta", device_ids=GAID),
            click("b", 2 * D, "google", device_ids=GAID),
            click("c", 1 * D, "tiktok", device_ids=GAID),
        ],
        [event("conv", device_ids=GAID)],
        "device_click",
        "c",
        ("a", "b", "c"),
        credits={
            "last_touch": {"a": 0, "b": 0, "c": 1},
            "first_touch": {"a": 1, "b": 0, "c": 0},
            "linear": {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3},
            # 2^(-age/7d): 2^(-3/7), 2^(-2/7), 2^(-1/7), normalised
            "time_decay": {"a": 0.300924, "b": 0.332247, "c": 0.366830},
            "position_based": {"a": 0.4, "b": 0.2, "c": 0.4},
        },
    ),
    Scenario(
        "four touches position-based 40/10/10/40",
        [click(x, (5 - i) * H, device_ids=GAID) for i, x in enumerate("abcd", 1)],
        [event("conv", device_ids=GAID)],
        "device_click",
        "d",
        ("a", "b", "c", "d"),
        credits={"position_based": {"a": 0.4, "b": 0.1, "c": 0.1, "d": 0.4}, "linear": dict.fromkeys("abcd", 0.25)},
    ),
    Scenario(
        "two touches position-based 50/50",
        [click("a", 5 * H, device_ids=GAID), click("b", 1 * H, device_ids=GAID)],
        [event("conv", device_ids=GAID)],
        "device_click",
        "b",
        ("a", "b"),
        credits={"position_based": {"a": 0.5, "b": 0.5}},
    ),
    Scenario(
        "time decay with a 1 d half-life halves per day",
        [click("a", 2 * D, device_ids=GAID), click("b", 1 * D, device_ids=GAID)],
        [event("conv", device_ids=GAID)],
        "device_click",
        "b",
        ("a", "b"),
        credits={"time_decay": {"a": 1 / 3, "b": 2 / 3}},
        settings={"time_decay_half_life_days": 1},
    ),
    # --- fraud -----------------------------------------------------------------------------------------
    Scenario(
        "click injection flagged and kept under the flag policy",
        [click("inj", 5 * S, "injector", device_ids=GAID)],
        [event("conv", device_ids=GAID)],
        "device_click",
        "inj",
        fraud=("flagged", "click_injection", "inj"),
    ),
    Scenario(
        "click injection rejected: the install goes to the next touch",
        [click("honest", 3 * H, "meta", device_ids=GAID), click("inj", 5 * S, "injector", device_ids=GAID)],
        [event("conv", device_ids=GAID)],
        "device_click",
        "honest",
        ("honest",),
        settings={"fraud_policy": "reject"},
        fraud=("rejected", "click_injection", "inj"),
    ),
    Scenario(
        "click injection rejected with no other touch: organic",
        [click("inj", 5 * S, "injector", device_ids=GAID)],
        [event("conv", device_ids=GAID)],
        "organic",
        settings={"fraud_policy": "reject"},
        fraud=("rejected", "click_injection", "inj"),
    ),
    Scenario(
        "an injected retargeting click rejected: the reinstall stays a reinstall",
        [click("inj", 5 * S, "injector", device_ids=GAID)],
        [event("first", 30 * D, device_ids=GAID), event("conv", device_ids=GAID)],
        "reinstall",
        kind="reinstall",
        settings={"fraud_policy": "reject"},
        fraud=("rejected", "click_injection", "inj"),
    ),
    Scenario(
        "CTIT exactly at the 10 s minimum is no injection",
        [click("c", 10 * S, device_ids=GAID)],
        [event("conv", device_ids=GAID)],
        "device_click",
        "c",
    ),
    # --- time zones ------------------------------------------------------------------------------------
    Scenario(
        "conversion date in the app's time zone (after midnight in Berlin, before in UTC)",
        [],
        [event("conv", device_ids=GAID)],
        "organic",
        timezone="Europe/Berlin",
        at=dt.datetime(2026, 3, 28, 23, 30, tzinfo=dt.UTC),
        conversion_date=dt.date(2026, 3, 29),
    ),
    Scenario(
        "a lookback across the spring DST change is 168 real hours (exactly at the edge)",
        [click("c", 7 * D, device_ids=GAID)],
        [event("conv", device_ids=GAID)],
        "device_click",
        "c",
        timezone="Europe/Berlin",
        at=dt.datetime(2026, 3, 31, 0, 30, tzinfo=dt.UTC),  # local wall clock: 7 d + 1 h after the click
        conversion_date=dt.date(2026, 3, 31),
    ),
    Scenario(
        "a lookback across the autumn DST change is 168 real hours (1 s outside)",
        [click("c", 7 * D + S, device_ids=GAID)],
        [event("conv", device_ids=GAID)],
        "organic",
        timezone="Europe/Berlin",
        at=dt.datetime(2026, 10, 30, 12, 0, tzinfo=dt.UTC),  # local wall clock: 6 d 23 h after the click
    ),
]


def _materialise(app, scenario: Scenario):
    ids = {}
    touches = []
    for touch in scenario.touches:
        ids[touch["label"]] = uuid.uuid4()
        row = {k: v for k, v in touch.items() if k not in ("label", "ago", "click_id_only")}
        touches.append({**row, "touch_id": ids[touch["label"]], "at": scenario.at - touch["ago"]})
    events = []
    for item in scenario.events:
        ids[item["label"]] = uuid.uuid4()
        row = {k: v for k, v in item.items() if k not in ("label", "ago", "click_id")}
        if "click_id" in item:
            row["click_id"] = ids[item["click_id"]].hex
        events.append({**row, "event_id": ids[item["label"]], "at": scenario.at - item["ago"]})
    data.store(app.id, touches=touches, events=events)
    return ids


@pytest.mark.django_db
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_scenario(scenario: Scenario):
    app = AppFactory(timezone=scenario.timezone)
    if scenario.settings:
        app_services.settings_update(app=app, changed_by=app.owner, **scenario.settings)
    ids = _materialise(app, scenario)
    labels = {value: key for key, value in ids.items()}
    data.run(app, scenario.at - H, scenario.at + H)

    results = data.results(app.id, ids["conv"])
    if scenario.match_type is None:
        assert results == {}
        return
    assert set(results) == set(MODELS)
    for model, result in results.items():
        assert result["match_type"] == scenario.match_type, model
        assert result["conversion_kind"] == scenario.kind
        assert labels.get(result["touch_id"]) == scenario.winner
        status, reason, rejected = scenario.fraud
        assert (result["fraud_status"], result["rejection_reason"]) == (status, reason)
        assert labels.get(result["rejected_touch_id"]) == rejected
        path = tuple(labels[t] for t in result["credits"])
        assert path == (scenario.path or ((scenario.winner,) if scenario.winner else ()))
        if path:
            assert sum(result["credits"].values()) == pytest.approx(1.0)
        if scenario.conversion_date:
            assert result["conversion_date"] == scenario.conversion_date
    for model, expected in scenario.credits.items():
        credits = {labels[t]: c for t, c in results[model]["credits"].items()}
        assert credits == pytest.approx(expected, abs=1e-6), model
    if scenario.winner:
        winner = results["last_touch"]
        touch_at = next(scenario.at - t["ago"] for t in scenario.touches if t["label"] == scenario.winner)
        assert winner["ctit_seconds"] == pytest.approx((scenario.at - touch_at).total_seconds())


def test_there_are_at_least_25_scenarios():
    assert len(SCENARIOS) >= 25
