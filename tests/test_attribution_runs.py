"""Engine runs: the data-driven model, flooding, idempotency, recompute, the continuous run,
inherited revenue, the explanation API, the command, and properties that hold for any input."""

import datetime as dt
import io
import time
import uuid

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from apps_registry import services as app_services
from core import clickhouse
from dashboard import explanation, selectors
from events.attribution_engine import datadriven, services, sql
from events.attribution_engine.rules import MODELS
from events.models import AttributionRun
from tests import attribution_data as data
from tests.factories import AppFactory, UserFactory, bearer, grant

pytestmark = pytest.mark.django_db

T = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)

ALL_ROWS_SQL = """
SELECT model, conversion_id, match_type, touch_id, settings_version, path.touch_id, credits[model]
FROM attributions FINAL ARRAY JOIN mapKeys(credits) AS model
WHERE app_id = {app_id:UUID} ORDER BY conversion_id, model
"""


def analyst(app):
    """A user with analytics on ``app``: who may read attribution results."""
    user = UserFactory(role="user")
    grant(user, app, "view_app", "view_analytics")
    return user


def all_rows(app_id) -> list[tuple]:
    return clickhouse.execute(ALL_ROWS_SQL, {"app_id": app_id}, tag="test_all_rows").rows


# --- data-driven (Markov removal effects) ------------------------------------------------------------
# Journeys: d1: A -> conversion; d2: A -> B -> conversion; d3: B -> null.
# P(conv) = 2/3. Without A: only start->B (1/3) x P(B)=1/2 -> 1/6: removal effect 1 - (1/6)/(2/3) = 0.75.
# Without B: P(A) = 1/2 -> 2/3 x 1/2 = 1/3: removal effect 1 - (1/3)/(2/3) = 0.5.
HAND_TRANSITIONS = {
    "(start)": {"ch:A": 2, "ch:B": 1},
    "ch:A": {"(conversion)": 1, "ch:B": 1},
    "ch:B": {"(conversion)": 1, "(null)": 1},
}


def test_removal_effects_by_hand():
    assert datadriven.conversion_probability(HAND_TRANSITIONS) == pytest.approx(2 / 3)
    assert datadriven.removal_effects(HAND_TRANSITIONS) == pytest.approx({"A": 0.75, "B": 0.5})


def _markov_world(app, T=T):
    a1, a2, b2 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    conv1, conv2 = uuid.uuid4(), uuid.uuid4()
    data.store(
        app.id,
        touches=[
            {"touch_id": a1, "at": T - 5 * H, "source": "A", "device_ids": {"gaid": "d1"}},
            {"touch_id": a2, "at": T - 5 * H, "source": "A", "device_ids": {"gaid": "d2"}},
            {"touch_id": b2, "at": T - 3 * H, "source": "B", "device_ids": {"gaid": "d2"}},
            {"at": T - 3 * H, "source": "B", "device_ids": {"gaid": "d3"}},
        ],
        events=[
            {"event_id": conv1, "at": T, "device_ids": {"gaid": "d1"}},
            {"event_id": conv2, "at": T, "device_ids": {"gaid": "d2"}},
        ],
    )
    return conv1, conv2, a2, b2


def test_transitions_come_from_clickhouse_and_credits_follow_removal_effects():
    app = AppFactory()
    conv1, conv2, a2, b2 = _markov_world(app)
    assert datadriven.transitions(app_id=app.id, since=T - D, until=T + H) == HAND_TRANSITIONS
    run = data.run(app, T - H, T + H)
    assert run.data_driven_weights == pytest.approx({"A": 0.75, "B": 0.5})
    # d2's path A, B shares its credit 0.75 : 0.5 -> 0.6 / 0.4
    assert data.results(app.id, conv2)["data_driven"]["credits"] == pytest.approx({a2: 0.6, b2: 0.4})
    assert list(data.results(app.id, conv1)["data_driven"]["credits"].values()) == [1.0]


# --- click flooding ------------------------------------------------------------------------------------


def _flooding_world(app, installs=12):
    """An honest source (clicks 5 min before installs, 3 clicks per install) and a flooding one
    (installs 10 h after the click, 40 clicks per install)."""
    touches, events, flooded = [], [], []
    for i in range(installs):
        honest, flood = f"h{i}", f"f{i}"
        touches.append({"at": T - 5 * 60 * dt.timedelta(seconds=1), "source": "honest", "device_ids": {"gaid": honest}})
        touches += [{"at": T - 2 * H, "source": "honest"} for _ in range(2)]
        touches.append({"at": T - 10 * H, "source": "flood", "device_ids": {"gaid": flood}})
        touches += [{"at": T - 10 * H, "source": "flood"} for _ in range(39)]
        event_id = uuid.uuid4()
        flooded.append(event_id)
        events += [
            {"at": T, "device_ids": {"gaid": honest}},
            {"event_id": event_id, "at": T, "device_ids": {"gaid": flood}},
        ]
    data.store(app.id, touches=touches, events=events)
    return flooded


def test_flooding_source_is_flagged_and_rejected_by_policy():
    app = AppFactory()
    flooded = _flooding_world(app)
    run = data.run(app, T - H, T + H)
    assert run.flooding_sources == ["flood"]
    flagged = data.results(app.id, flooded[0])["last_touch"]
    assert (flagged["media_source"], flagged["fraud_status"], flagged["rejection_reason"]) == (
        "flood",
        "flagged",
        "click_flooding",
    )
    app_services.settings_update(app=app, changed_by=app.owner, fraud_policy="reject")
    services.attribution_run(app=app, since=T - H, until=T + H, recompute=True)
    rejected = data.results(app.id, flooded[0])["last_touch"]
    assert (rejected["match_type"], rejected["fraud_status"], rejected["rejection_reason"]) == (
        "organic",
        "rejected",
        "click_flooding",
    )


def test_too_few_installs_are_no_evidence_of_flooding():
    app = AppFactory()
    _flooding_world(app, installs=9)
    assert data.run(app, T - H, T + H).flooding_sources == []


# --- idempotency, recompute, the continuous run -------------------------------------------------------


def test_running_the_same_window_twice_changes_nothing():
    app = AppFactory()
    _markov_world(app)
    data.run(app, T - H, T + H)
    first = all_rows(app.id)
    data.run(app, T - H, T + H)
    assert all_rows(app.id) == first
    assert len(first) == 2 * len(MODELS)


def scratch_tables() -> set[str]:
    return {name for (name,) in clickhouse.execute(sql.SCRATCH_TABLES, tag="test_scratch").rows}


def test_a_run_drops_its_scratch_and_what_dead_runs_left_behind():
    app = AppFactory()
    _markov_world(app)
    before = scratch_tables()
    stale = f"{sql.SCRATCH_PREFIX}{int(time.time() - 2 * 86400)}_deadbeef0000"
    recent = f"{sql.SCRATCH_PREFIX}{int(time.time() - 60)}_running00000"  # another run, still going
    for name in (stale, recent):
        clickhouse.execute(sql.CREATE_SCRATCH, {"scratch": name}, tag="test_scratch")
    data.run(app, T - H, T + H)
    assert scratch_tables() == (before - {stale}) | {recent}
    clickhouse.execute(sql.DROP_SCRATCH, {"scratch": recent}, tag="test_scratch")


def test_recompute_applies_new_settings_and_replaces_results():
    app = AppFactory()
    touch, conversion = uuid.uuid4(), uuid.uuid4()
    data.store(
        app.id,
        touches=[{"touch_id": touch, "at": T - 3 * D, "device_ids": {"gaid": "d"}}],
        events=[{"event_id": conversion, "at": T, "device_ids": {"gaid": "d"}}],
    )
    data.run(app, T - H, T + H)
    assert data.results(app.id, conversion)["last_touch"]["match_type"] == "device_click"
    version = app_services.settings_update(app=app, changed_by=app.owner, click_lookback_hours=48)
    out = io.StringIO()
    call_command(
        "run_attribution", "--recompute", "--from", (T - D).isoformat(), "--to", (T + D).isoformat(), stdout=out
    )
    result = data.results(app.id, conversion)["last_touch"]
    assert (result["match_type"], result["settings_version"]) == ("organic", version.version)
    assert len(all_rows(app.id)) == len(MODELS)  # replaced, not added
    assert "1 conversions attributed" in out.getvalue()


def test_follow_attributes_what_arrived_once_and_moves_its_cursor(settings):
    settings.ATTRIBUTION_SETTLE_SECONDS = 0
    app = AppFactory()
    now = dt.datetime.now(dt.UTC)  # the continuous run looks at what ingestion still accepts: 30 days
    conv1, *_ = _markov_world(app, T=now - D)
    stale = AttributionRun.objects.create(
        app=app,
        mode=AttributionRun.Mode.FOLLOW,
        window_start=services.EPOCH,
        window_end=now - 8 * D,
        settings_version=0,
    )
    first = services.attribution_follow(app=app)
    assert first.window_start == stale.window_end
    assert not AttributionRun.objects.filter(pk=stale.pk).exists()  # a week of follow records is kept
    assert first is not None and first.mode == AttributionRun.Mode.FOLLOW
    assert set(data.results(app.id, conv1)) == set(MODELS)
    later = uuid.uuid4()
    data.store(app.id, events=[{"event_id": later, "at": now - H, "device_ids": {"gaid": "d9"}}])
    second = services.attribution_follow(app=app)
    assert second.window_start == first.window_end
    assert data.results(app.id, later)["last_touch"]["match_type"] == "organic"
    assert len(all_rows(app.id)) == 3 * len(MODELS)


# --- post-install revenue inherits the install's attribution ----------------------------------------


def test_purchases_inherit_the_install_attribution_split_by_credit():
    app = AppFactory()
    data.store(
        app.id,
        touches=[
            {"at": T - 2 * D, "source": "meta", "device_ids": {"gaid": "buyer"}},
            {"at": T - 1 * D, "source": "google", "device_ids": {"gaid": "buyer"}},
        ],
        events=[
            {"at": T, "device_ids": {"gaid": "buyer"}},
            {"at": T, "device_ids": {"gaid": "organic"}},
        ],
    )
    clickhouse.insert(
        "events",
        [
            {
                "app_id": app.id,
                "event_id": uuid.uuid4(),
                "event_name": "purchase",
                "timestamp": T + D,
                "received_at": T + D,
                "device_id": device,
                "revenue": amount,
            }
            for device, amount in (("buyer", "10"), ("organic", "4"), ("stranger", "1"))
        ],
        columns=("app_id", "event_id", "event_name", "timestamp", "received_at", "device_id", "revenue"),
        tag="test_purchases",
    )
    data.run(app, T - H, T + H)
    by = {
        row["mediaSource"]: row["revenue"]
        for row in selectors.revenue_by_source(app_id=app.id, model="last_touch", since=T, until=T + 2 * D)
    }
    assert by == {"google": 10.0, "organic": 4.0, "unattributed": 1.0}
    linear = selectors.revenue_by_source(app_id=app.id, model="linear", since=T, until=T + 2 * D)
    assert {row["mediaSource"]: row["revenue"] for row in linear} == {
        "google": 5.0,
        "meta": 5.0,
        "organic": 4.0,
        "unattributed": 1.0,
    }
    user = analyst(app)
    report = APIClient().get(f"/api/analytics/attribution?app_id={app.id}&model=linear&days=730", **bearer(user))
    assert report.status_code == 200, report.content
    assert report.json()["sources"] == [
        {"mediaSource": "organic", "installs": 1.0, "revenue": 4.0, "purchases": 1.0},
        {"mediaSource": "google", "installs": 0.5, "revenue": 5.0, "purchases": 0.5},
        {"mediaSource": "meta", "installs": 0.5, "revenue": 5.0, "purchases": 0.5},
        {"mediaSource": "unattributed", "installs": 0.0, "revenue": 1.0, "purchases": 1.0},
    ]
    bad = APIClient().get(f"/api/analytics/attribution?app_id={app.id}&model=magic", **bearer(user))
    assert bad.status_code == 400


# --- the explanation API -------------------------------------------------------------------------------


def test_explanation_lists_candidates_decision_and_credits():
    app = AppFactory()
    user = analyst(app)
    winner, late, old, conversion = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    data.store(
        app.id,
        touches=[
            {"touch_id": old, "at": T - 8 * D, "source": "meta", "device_ids": {"gaid": "d"}},
            {"touch_id": winner, "at": T - 2 * H, "source": "google", "device_ids": {"gaid": "d"}},
            {"touch_id": late, "at": T + H, "source": "tiktok", "device_ids": {"gaid": "d"}},
        ],
        events=[{"event_id": conversion, "at": T, "device_ids": {"gaid": "d"}}],
    )
    data.run(app, T - H, T + H)
    response = APIClient().get(f"/api/apps/{app.id}/conversions/{conversion}/attribution", **bearer(user))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["decision"]["matchType"] == "device_click"
    assert body["decision"]["touchId"] == str(winner)
    assert body["decision"]["ctitSeconds"] == 7200
    assert body["rules"]["clickLookbackHours"] == 168
    why = {c["touchId"]: c for c in body["candidates"]}
    assert set(why) == {str(old), str(winner), str(late)}
    assert why[str(winner)]["why"].startswith("winner")
    assert not why[str(old)]["inWindow"] and "outside its window" in why[str(old)]["why"]
    assert why[str(late)]["why"].startswith("after the conversion")
    assert set(body["models"]) == set(MODELS)
    assert body["models"]["linear"] == [{"touchId": str(winner), "credit": 1.0, "matchType": "device_click"}]


def test_explanation_says_why_a_click_id_matched_nothing():
    app = AppFactory()
    user = analyst(app)
    stale, fresh, never = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    carried = {"foreign": "nw-123456", "never": never.hex, "stale": stale.hex, "fresh": fresh.hex, "none": None}
    conversions = {name: uuid.uuid4() for name in carried}
    data.store(
        app.id,
        touches=[{"touch_id": stale, "at": T - 20 * D}, {"touch_id": fresh, "at": T - 2 * H}],
        events=[
            {"event_id": conversions[name], "at": T, "device_ids": {"gaid": name}, "click_id": click_id}
            for name, click_id in carried.items()
        ],
    )
    data.run(app, T - H, T + H)
    stories = {
        name: APIClient().get(f"/api/apps/{app.id}/conversions/{conversion}/attribution", **bearer(user)).json()
        for name, conversion in conversions.items()
    }
    click_ids = {name: story["conversion"]["clickId"] for name, story in stories.items()}
    assert click_ids == {
        "foreign": {
            "value": "nw-123456",
            "matched": False,
            "why": "matched nothing: not a click id of this platform (ours are the UUIDs its tracking links hand out)",
        },
        "never": {
            "value": never.hex,
            "matched": False,
            "why": "matched nothing: no click of this app has this id (another app's click, or one past retention)",
        },
        "stale": {
            "value": stale.hex,
            "matched": False,
            "why": "matched nothing: its click came 480 h before the conversion, outside the lookback",
        },
        "fresh": {"value": fresh.hex, "matched": True, "why": "matched its click, listed among the candidates"},
        "none": None,
    }
    assert stories["fresh"]["decision"]["matchType"] == "click_id"
    assert {story["decision"]["matchType"] for name, story in stories.items() if name != "fresh"} == {"organic"}


def test_explanation_of_a_conversion_of_no_device():
    """An install without a device id: the explanation reads the events of no device, and finds the
    click its click id names."""
    app = AppFactory()
    conversion, click = uuid.uuid4(), uuid.uuid4()
    data.store(
        app.id,
        touches=[{"touch_id": click, "at": T - 2 * H}, {"at": T - H, "device_ids": {"gaid": "d"}}],
        events=[{"event_id": conversion, "at": T, "click_id": click.hex}],
    )
    data.run(app, T - H, T + H)
    story = explanation.conversion_explanation(app=app, conversion_id=conversion)
    assert [candidate["touchId"] for candidate in story["candidates"]] == [str(click)]
    assert (story["decision"]["matchType"], story["decision"]["touchId"]) == ("click_id", str(click))


def test_explanation_reads_an_event_stored_twice_in_its_newest_version():
    """An install stored twice, its newer version naming another click (both versions until a merge):
    the engine reads the newer (FINAL), and so does the explanation, which picks each event's newest
    version itself; the click only the older version named is no candidate."""
    app = AppFactory()
    conversion, old_click, new_click = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    data.store(app.id, touches=[{"touch_id": old_click, "at": T - 3 * H}, {"touch_id": new_click, "at": T - 2 * H}])
    versions = [
        {"event_id": conversion, "at": T, "click_id": click.hex, "inserted_at": inserted}
        for click, inserted in ((old_click, T), (new_click, T + H))
    ]
    data.store_versions(app.id, versions)
    try:
        data.run(app, T - H, T + H)
        story = explanation.conversion_explanation(app=app, conversion_id=conversion)
    finally:
        data.forget_events(app.id)
    assert story["decision"]["touchId"] == str(new_click)
    assert [candidate["touchId"] for candidate in story["candidates"]] == [str(new_click)]


def test_explanation_of_an_unattributed_event_is_404():
    app = AppFactory()
    user = analyst(app)
    response = APIClient().get(f"/api/apps/{app.id}/conversions/{uuid.uuid4()}/attribution", **bearer(user))
    assert response.status_code == 404
    assert "not a conversion" in response.json()["error"]


def test_a_long_history_is_attributed_period_by_period():
    app = AppFactory()
    touches, events = [], []
    for n, at in enumerate((T - 60 * D, T - 20 * D, T)):
        touches.append({"at": at - H, "source": f"s{n}", "device_ids": {"gaid": f"device{n}"}})
        events.append({"event_id": uuid.uuid4(), "at": at, "device_ids": {"gaid": f"device{n}"}})
    data.store(app.id, touches=touches, events=events)
    seen = []
    runs = services.attribution_history(
        app=app, since=T - 62 * D, until=T + H, progress=lambda done, total, run: seen.append((done, total))
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert [run.window_end - run.window_start for run in runs] == [31 * D, 31 * D, H]
    assert [run.conversions for run in runs] == [1, 1, 1]
    for n, event in enumerate(events):
        assert data.results(app.id, event["event_id"])["last_touch"]["media_source"] == f"s{n}"
    with pytest.raises(ValueError, match="at most 31 days"):
        services.attribution_run(app=app, since=T - 32 * D, until=T)


# --- the command -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Give --since"),
        (("--recompute",), "--recompute needs --from"),
        (("--since", "2026-06-10", "--until", "2026-06-01"), "The window is empty"),
        (("--app", str(uuid.uuid4()), "--since", "2026-06-01"), "Unknown app id"),
    ],
)
def test_command_refuses_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("run_attribution", *args)


def test_command_bad_date_is_a_clear_error():
    with pytest.raises(CommandError, match="not an ISO date"):
        call_command("run_attribution", "--since", "yesterday")


# --- properties --------------------------------------------------------------------------------------

touch_strategy = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["click", "impression"]),
        "seconds_before": st.integers(min_value=-3600, max_value=9 * 86400),
        "source": st.sampled_from(["meta", "google", "tiktok"]),
        "match": st.sampled_from(["device", "click_id", "fingerprint", "none"]),
    }
)


def _store_generated(app, touches) -> uuid.UUID:
    conversion, rows, click_id = uuid.uuid4(), [], None
    fingerprint = {"ip": "198.51.100.0", "os": "ios", "os_version": "18"}
    for touch in touches:
        touch_id = uuid.uuid4()
        row = {
            "touch_id": touch_id,
            "type": touch["type"],
            "at": T - dt.timedelta(seconds=touch["seconds_before"]),
            "source": touch["source"],
        }
        if touch["match"] == "device":
            row["device_ids"] = {"idfa": "device"}
        elif touch["match"] == "fingerprint":
            row.update(fingerprint)
        elif touch["match"] == "click_id" and touch["type"] == "click":
            click_id = touch_id.hex
        rows.append(row)
    event = {"event_id": conversion, "at": T, "device_ids": {"idfa": "device"}, "click_id": click_id, **fingerprint}
    data.store(app.id, touches=rows, events=[event])
    return conversion


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(touches=st.lists(touch_strategy, max_size=6), probabilistic=st.booleans())
def test_credits_sum_to_one_and_reruns_change_nothing(touches, probabilistic):
    app = AppFactory()
    if probabilistic:
        app_services.settings_update(app=app, changed_by=app.owner, probabilistic_enabled=True)
    conversion = _store_generated(app, touches)
    data.run(app, T - H, T + H)
    first = all_rows(app.id)
    results = data.results(app.id, conversion)
    assert set(results) == set(MODELS)
    for result in results.values():
        credits = list(result["credits"].values())
        if result["match_type"] == "organic":
            assert credits == []
        else:
            assert sum(credits) == pytest.approx(1.0)
            assert all(0.0 <= c <= 1.0 for c in credits)
            assert result["touch_id"] in result["credits"]
    # the explanation, read from the conversion's device only, finds every touch the engine credited
    story = explanation.conversion_explanation(app=app, conversion_id=conversion)
    in_window = {candidate["touchId"] for candidate in story["candidates"] if candidate["inWindow"]}
    assert {str(touch) for touch in results["linear"]["credits"]} <= in_window
    assert story["decision"]["touchId"] in in_window | {None}
    data.run(app, T - H, T + H)
    assert all_rows(app.id) == first


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(touch=touch_strategy.filter(lambda t: t["match"] == "device" and 0 <= t["seconds_before"] <= 86400))
def test_with_one_touch_every_model_gives_it_all_the_credit(touch):
    app = AppFactory()
    conversion = _store_generated(app, [touch])
    data.run(app, T - H, T + H)
    results = data.results(app.id, conversion)
    for model in MODELS:
        assert list(results[model]["credits"].values()) == [1.0], model


def test_explanation_authorization_for_every_role():
    """Roles user and admin with analytics on the app read it; readonly may not read analytics; a
    user of another app and anyone signed out learn nothing."""
    app, other_app = AppFactory(), AppFactory()
    readonly, user, other = UserFactory(role="readonly"), UserFactory(role="user"), UserFactory(role="user")
    grant(readonly, app, "view_app")
    grant(user, app, "view_app", "view_analytics")
    grant(other, other_app, "view_app", "view_analytics")
    conversion = uuid.uuid4()
    data.store(app.id, events=[{"event_id": conversion, "at": T, "device_ids": {"gaid": "d"}}])
    data.run(app, T - H, T + H)
    path = f"/api/apps/{app.id}/conversions/{conversion}/attribution"
    callers = {
        "anonymous": None,
        "readonly": readonly,
        "user": user,
        "user_other_app": other,
        "admin": UserFactory(role="admin"),
    }
    statuses = {
        name: APIClient().get(path, **(bearer(caller) if caller else {})).status_code
        for name, caller in callers.items()
    }
    assert statuses == {"anonymous": 401, "readonly": 403, "user": 200, "user_other_app": 404, "admin": 200}
    for method in ("post", "put", "patch", "delete"):
        assert getattr(APIClient(), method)(path, **bearer(user)).status_code == 405


def test_explanation_says_which_touch_the_fraud_policy_dropped():
    app = AppFactory()
    app_services.settings_update(app=app, changed_by=app.owner, fraud_policy="reject")
    user = analyst(app)
    honest, injected, impression, conversion = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    data.store(
        app.id,
        touches=[
            {"touch_id": honest, "at": T - 3 * H, "source": "meta", "device_ids": {"gaid": "d"}},
            {"touch_id": injected, "at": T - dt.timedelta(seconds=4), "source": "bad", "device_ids": {"gaid": "d"}},
            {"touch_id": impression, "at": T - H, "type": "impression", "device_ids": {"gaid": "d"}},
        ],
        events=[{"event_id": conversion, "at": T, "device_ids": {"gaid": "d"}}],
    )
    data.run(app, T - H, T + H)
    body = APIClient().get(f"/api/apps/{app.id}/conversions/{conversion}/attribution", **bearer(user)).json()
    assert body["decision"]["fraudStatus"] == "rejected"
    assert body["decision"]["rejectedTouchId"] == str(injected)
    why = {c["touchId"]: c["why"] for c in body["candidates"]}
    assert why[str(honest)].startswith("winner")
    assert why[str(injected)].startswith("dropped: the app rejects touches flagged as fraud")
    assert why[str(impression)] == "matched as device-id impression, but a device-id click is a stronger match"
