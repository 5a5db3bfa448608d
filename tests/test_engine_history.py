"""A conversion's kind and credits are the same whatever window the engine runs over (issue 19).

Scenarios first (each failed when a run read a device's history only back to its own start minus the
longest window), then the property: for generated devices, attributing [a, b) then [b, c), one run over
[a, c) and the continuous run give exactly the same rows for the conversions in [a, c).
Defaults: re-attribution 90 d, re-engagement inactivity 7 d, click lookback 7 d.
"""

import datetime as dt
import uuid

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apps_registry import services as app_services
from core import clickhouse
from events.attribution_engine import services
from tests import attribution_data as data
from tests.factories import AppFactory

pytestmark = pytest.mark.django_db

T = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
GAID = {"gaid": "dev-1"}


def kind_and_match(app, conversion) -> tuple[str, str]:
    result = data.results(app.id, conversion)["last_touch"]
    return result["conversion_kind"], result["match_type"]


# --- item 1: the kind does not depend on the run window ------------------------------------------------


@pytest.mark.parametrize(
    "since", [T - H, T - 30 * D, T - 31 * D + 2 * H], ids=["narrow run", "run from T-30d", "run from T-31d"]
)
def test_an_install_long_after_the_first_is_a_new_install_in_any_window(since):
    app = AppFactory()
    conversion, click = uuid.uuid4(), uuid.uuid4()
    data.store(
        app.id,
        touches=[{"touch_id": click, "at": T - H, "device_ids": GAID}],
        events=[{"at": T - 120 * D, "device_ids": GAID}, {"event_id": conversion, "at": T, "device_ids": GAID}],
    )
    data.run(app, since, T + H)
    assert kind_and_match(app, conversion) == ("install", "device_click")


@pytest.mark.parametrize(
    ("reattribution_days", "installed_ago"), [(90, 130 * D), (30, 70 * D)], ids=["after 130 d", "after 70 d, 30 d"]
)
def test_an_open_after_long_inactivity_is_a_re_engagement_in_a_narrow_run(reattribution_days, installed_ago):
    app = AppFactory()
    app_services.settings_update(app=app, changed_by=app.owner, reattribution_window_days=reattribution_days)
    conversion, click = uuid.uuid4(), uuid.uuid4()
    data.store(
        app.id,
        touches=[{"touch_id": click, "at": T - H, "device_ids": GAID, "source": "retargeter"}],
        events=[
            {"at": T - installed_ago, "device_ids": GAID},
            {"event_id": conversion, "name": "open", "at": T, "device_ids": GAID},
        ],
    )
    data.run(app, T - H, T + H)
    result = data.results(app.id, conversion)["last_touch"]
    assert (result["conversion_kind"], result["media_source"], result["touch_id"]) == (
        "re_engagement",
        "retargeter",
        click,
    )


def test_the_continuous_run_sees_an_install_older_than_its_look_back(settings):
    settings.ATTRIBUTION_SETTLE_SECONDS = 0
    app = AppFactory()
    now = dt.datetime.now(dt.UTC)
    conversion = uuid.uuid4()
    data.store(
        app.id,
        touches=[{"at": now - 2 * H, "device_ids": GAID}],
        events=[{"at": now - 125 * D, "device_ids": GAID}, {"event_id": conversion, "at": now - H, "device_ids": GAID}],
    )
    services.attribution_follow(app=app)
    assert kind_and_match(app, conversion) == ("install", "device_click")


# --- item 2: the re-attribution window runs from the last install that counted as new ------------------


def test_a_chain_of_reinstalls_leaves_the_window_of_the_last_new_install():
    app = AppFactory()
    ids = {ago: uuid.uuid4() for ago in (120, 60, 20, 0)}
    data.store(
        app.id,
        touches=[{"at": T - ago * D - H, "device_ids": GAID} for ago in ids],
        events=[{"event_id": event_id, "at": T - ago * D, "device_ids": GAID} for ago, event_id in ids.items()],
    )
    for ago in ids:
        data.run(app, T - ago * D - H, T - ago * D + H)
    kinds = {ago: kind_and_match(app, event_id) for ago, event_id in ids.items()}
    assert kinds == {
        120: ("install", "device_click"),
        # 60 d after the new install of T-120 d: a reinstall, after a click: re-attributed to it
        60: ("reattribution", "device_click"),
        20: ("install", "device_click"),  # 100 d after it: new again, though 40 d after a reinstall
        0: ("reattribution", "device_click"),  # 20 d after the new install of T-20 d
    }


# --- the property ------------------------------------------------------------------------------------------

# Days before the end of the generated period (c): the run windows and the history before a = c - 20 d.
ANCHOR_DAYS = (130, 100, 60, 40, 25, 21, 19, 17, 15, 12, 10, 8, 7, 6, 5, 4, 3, 2, 1)
# A device's first install: old enough that a run reading history back only one re-attribution window
# (or an inactivity window) before its start misses it, or not.
FIRST_INSTALL_DAYS = (200, 130, 115, 105, 100, 95, 60, 45, 35, 25)
EVENT_NAMES = ("install", "install", "first_open", "open", "open", "session_start", "purchase")

touch_strategy = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["click", "impression"]),
        "day": st.sampled_from(ANCHOR_DAYS),
        "hour": st.integers(min_value=0, max_value=47),
        "match": st.sampled_from(["device", "click_id", "fingerprint"]),
        "ids": st.sampled_from(["gaid", "android_id", "both"]),
    }
)
event_strategy = st.fixed_dictionaries(
    {
        "name": st.sampled_from(EVENT_NAMES),
        "day": st.sampled_from(ANCHOR_DAYS),
        "hour": st.integers(min_value=0, max_value=47),
        "clicked": st.integers(min_value=0, max_value=5),
        "ids": st.sampled_from(["gaid", "android_id", "both"]),
    }
)
device_strategy = st.fixed_dictionaries(
    {
        "source": st.sampled_from(["meta", "google", "tiktok"]),
        "installed": st.sampled_from(FIRST_INSTALL_DAYS),
        "installed_with": st.sampled_from(["gaid", "android_id", "both"]),
        "events": st.lists(event_strategy, min_size=1, max_size=6),
        "touches": st.lists(touch_strategy, max_size=5),
        # a retargeting click on that day and a reinstall two hours later: a re-attribution when inside
        # the re-attribution window
        "retargeted": st.sampled_from([None, *ANCHOR_DAYS]),
    }
)

ROWS_SQL = """
SELECT conversion_id, conversion_name, conversion_kind, conversion_time, device_key, match_type, touch_id,
       ctit_seconds, confidence, fraud_status, rejection_reason, rejected_touch_id, path.touch_id, path.match_type,
       credits, reengagement_window_end
FROM attributions FINAL
WHERE app_id = {app_id:UUID}
  AND conversion_time >= {since:DateTime64(3, 'UTC')} AND conversion_time < {until:DateTime64(3, 'UTC')}
ORDER BY conversion_id
"""


def _generated(devices, end: dt.datetime) -> tuple[list[dict], list[dict]]:
    """Touches and events of the generated devices; each device's touches come from one source, so the
    data-driven credits (weights decided per period) are the same in every run."""
    touches, events = [], []
    for number, device in enumerate(devices):
        known = {"gaid": f"gaid-{number}", "android_id": f"android-{number}"}
        ids = {"gaid": {"gaid": known["gaid"]}, "android_id": {"android_id": known["android_id"]}, "both": known}
        fingerprint = {"ip": f"198.51.{number}.0", "os": "android", "os_version": "15"}
        clicks = []
        for touch in device["touches"]:
            touch_id = uuid.uuid4()
            row = {
                "touch_id": touch_id,
                "type": touch["type"],
                "source": device["source"],
                "at": end - touch["day"] * D + touch["hour"] * H,
            }
            if touch["match"] == "device":
                row["device_ids"] = ids[touch["ids"]]
            elif touch["match"] == "fingerprint":
                row.update(fingerprint)
            elif touch["type"] == "click":
                clicks.append(touch_id)
            touches.append(row)
        first = {
            "name": "install",
            "day": device["installed"],
            "hour": 0,
            "clicked": len(clicks),
            "ids": device["installed_with"],
        }
        retargeting = []
        if device["retargeted"] is not None:
            touches.append(
                {
                    "touch_id": uuid.uuid4(),
                    "type": "click",
                    "source": device["source"],
                    "at": end - device["retargeted"] * D,
                    "device_ids": ids["gaid"],
                }
            )
            retargeting.append(
                {"name": "install", "day": device["retargeted"], "hour": 2, "clicked": len(clicks), "ids": "both"}
            )
        for event in [first, *device["events"], *retargeting]:
            at = end - event["day"] * D + event["hour"] * H
            row = {"name": event["name"], "at": at, "device_ids": ids[event["ids"]]}
            if event["clicked"] < len(clicks):
                row["click_id"] = clicks[event["clicked"]].hex
            events.append({**row, **fingerprint, "event_id": uuid.uuid4()})
    return touches, events


# Found by this property: a path of one channel got data-driven credits of 0.33333333333333337 in one run
# and 0.3333333333333333 in another (w / (w + w + w) for two periods' weights w).
ONE_CHANNEL_PATHS = [
    {
        "source": "google",
        "installed": 25,
        "installed_with": "android_id",
        "retargeted": 1,
        "events": [
            {"name": "session_start", "day": 10, "hour": 43, "clicked": 5, "ids": "android_id"},
            {"name": "purchase", "day": 6, "hour": 13, "clicked": 2, "ids": "both"},
            {"name": "first_open", "day": 19, "hour": 10, "clicked": 0, "ids": "android_id"},
        ],
        "touches": [
            {"type": "impression", "day": 15, "hour": 6, "match": "fingerprint", "ids": "both"},
            {"type": "click", "day": 21, "hour": 26, "match": "click_id", "ids": "android_id"},
            {"type": "impression", "day": 15, "hour": 21, "match": "fingerprint", "ids": "gaid"},
            {"type": "click", "day": 40, "hour": 9, "match": "click_id", "ids": "both"},
            {"type": "click", "day": 100, "hour": 33, "match": "click_id", "ids": "gaid"},
        ],
    },
    {
        "source": "meta",
        "installed": 100,
        "installed_with": "android_id",
        "retargeted": 6,
        "events": [
            {"name": "install", "day": 19, "hour": 37, "clicked": 5, "ids": "both"},
            {"name": "first_open", "day": 40, "hour": 41, "clicked": 3, "ids": "gaid"},
        ],
        "touches": [{"type": "click", "day": 4, "hour": 40, "match": "device", "ids": "gaid"}],
    },
    {
        "source": "google",
        "installed": 105,
        "installed_with": "android_id",
        "retargeted": 3,
        "events": [
            {"name": "open", "day": 130, "hour": 9, "clicked": 2, "ids": "gaid"},
            {"name": "purchase", "day": 25, "hour": 21, "clicked": 0, "ids": "gaid"},
            {"name": "session_start", "day": 130, "hour": 40, "clicked": 3, "ids": "both"},
        ],
        "touches": [],
    },
    {
        "source": "tiktok",
        "installed": 25,
        "installed_with": "android_id",
        "retargeted": 1,
        "events": [{"name": "first_open", "day": 10, "hour": 41, "clicked": 4, "ids": "both"}],
        "touches": [
            {"type": "click", "day": 3, "hour": 19, "match": "click_id", "ids": "both"},
            {"type": "click", "day": 25, "hour": 8, "match": "fingerprint", "ids": "both"},
            {"type": "click", "day": 2, "hour": 10, "match": "device", "ids": "gaid"},
            {"type": "click", "day": 3, "hour": 38, "match": "device", "ids": "both"},
            {"type": "impression", "day": 10, "hour": 4, "match": "click_id", "ids": "both"},
        ],
    },
]


def _rows(app, since, until) -> list[tuple]:
    params = {"app_id": app.id, "since": since, "until": until}
    return clickhouse.execute(ROWS_SQL, params, tag="test_engine_history").rows


@example(
    devices=ONE_CHANNEL_PATHS,
    split_days=2,
    split_hours=2,
    reattribution_days=30,
    inactivity_days=7,
    probabilistic=True,
)
@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    devices=st.lists(device_strategy, min_size=1, max_size=4),
    split_days=st.integers(min_value=1, max_value=19),
    split_hours=st.integers(min_value=0, max_value=23),
    reattribution_days=st.sampled_from([30, 90]),
    inactivity_days=st.sampled_from([7, 30]),
    probabilistic=st.booleans(),
)
def test_split_full_and_continuous_runs_give_the_same_rows(
    settings, devices, split_days, split_hours, reattribution_days, inactivity_days, probabilistic
):
    settings.ATTRIBUTION_SETTLE_SECONDS = 0
    now = dt.datetime.now(dt.UTC)
    c = now.replace(minute=0, second=0, microsecond=0) - 2 * D
    a, b = c - 20 * D, c - split_days * D - split_hours * H
    touches, events = _generated(devices, c)
    apps = [AppFactory() for _ in range(3)]
    for app in apps:
        app_services.settings_update(
            app=app,
            changed_by=app.owner,
            reattribution_window_days=reattribution_days,
            reengagement_inactivity_days=inactivity_days,
            probabilistic_enabled=probabilistic,
        )
        data.store(app.id, touches=touches, events=events)
    split, full, follow = apps
    data.run(split, a, b)
    data.run(split, b, c)
    data.run(full, a, c)
    services.attribution_follow(app=follow)
    assert _rows(split, a, c) == _rows(full, a, c) == _rows(follow, a, c)
    kinds = {row[2] for row in _rows(full, a, c)}
    assert kinds <= {"install", "reinstall", "reattribution", "re_engagement"}
