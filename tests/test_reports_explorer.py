"""The event explorer API: an app's latest events as stored (pseudonymised), newest arrival first,
narrowed by event name and device, bounded; another app's events never appear."""

import datetime as dt
import time
import uuid

import pytest
from rest_framework.test import APIClient

from dashboard import live_events
from events.privacy import pseudonymize
from tests import attribution_data as data
from tests.factories import AppFactory, UserFactory, bearer, grant
from tests.ingestion import app_with_key, count, post_events

pytestmark = pytest.mark.django_db(transaction=True)
EMAIL = "alice@example.com"


@pytest.fixture
def scenario(store_all):
    app, key = app_with_key()
    other, other_key = app_with_key()
    reader = UserFactory(role="user")
    grant(reader, app, "view_app", "view_analytics")
    grant(reader, other, "view_app", "view_analytics")
    sent = [
        (key, {"event_name": "install", "device_ids": {"idfa": "DEV1"}}),
        (key, {"event_name": "sign_up", "device_ids": {"idfa": "DEV1"}, "user_id": EMAIL}),
        (other_key, {"event_name": "other_apps_event", "device_ids": {"idfa": "DEV1"}}),
        (key, {"event_name": "purchase", "device_ids": {"gaid": "DEV2"}, "revenue": 3, "currency": "EUR"}),
    ]
    for raw_key, event in sent:  # one request each, so each arrives after the one before
        assert post_events(raw_key, [event]).status_code == 202
        time.sleep(0.01)
    store_all(until=lambda: count("events", app.id) >= 3 and count("events", other.id) >= 1)
    return {"app": app, "reader": reader}


def explore(scenario, parameters: str = ""):
    path = f"/api/analytics/explorer?app_id={scenario['app'].id}&{parameters}"
    return APIClient().get(path, **bearer(scenario["reader"]))


def test_the_latest_events_newest_first_and_only_the_apps_own(scenario):
    answer = explore(scenario)
    assert answer.status_code == 200, answer.content
    events = answer.json()["events"]
    assert [e["event_name"] for e in events] == ["purchase", "sign_up", "install"]
    assert (events[0]["revenue"], events[0]["currency"]) == ("3.000000", "EUR")


def test_identifiers_are_shown_as_stored_pseudonymised(scenario):
    answer = explore(scenario)
    app_id = str(scenario["app"].id)
    sign_up = answer.json()["events"][1]
    assert sign_up["device_id"] == pseudonymize(app_id, "idfa", "DEV1")
    assert sign_up["user_id"] == pseudonymize(app_id, "user", EMAIL) != ""
    assert b"DEV1" not in answer.content and EMAIL.encode() not in answer.content


def test_narrowed_by_event_name_by_device_and_bounded(scenario):
    assert [e["event_name"] for e in explore(scenario, "event_name=sign_up").json()["events"]] == ["sign_up"]
    by_raw_id = explore(scenario, "device_id=DEV1").json()["events"]
    assert [e["event_name"] for e in by_raw_id] == ["sign_up", "install"]  # never the other app's DEV1
    by_pseudonym = explore(scenario, f"device_id={by_raw_id[0]['device_id']}").json()["events"]
    assert by_pseudonym == by_raw_id
    assert [e["event_name"] for e in explore(scenario, "device_id=DEV2").json()["events"]] == ["purchase"]
    assert [e["event_name"] for e in explore(scenario, "limit=1").json()["events"]] == ["purchase"]
    assert explore(scenario, "event_name=nothing_sent").json()["events"] == []


@pytest.mark.parametrize("parameters", ["limit=501", "limit=0", "event_name=%3Cscript%3E", "hours=0", "hours=721"])
def test_bad_parameters_are_a_400(scenario, parameters):
    answer = explore(scenario, parameters)
    assert answer.status_code == 400, answer.content


def test_the_answer_has_the_documented_shape(scenario, client):
    from tests.test_openapi import _documented_response_schema, validator

    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    documented = _documented_response_schema(schema, "GET", "/api/analytics/explorer", 200)
    answer = explore(scenario).json()
    assert [e.message for e in validator(schema, documented, strict=True).iter_errors(answer)] == []


def test_an_event_stored_twice_is_listed_once_in_its_newest_version():
    """A redelivered event not yet merged away: one row, the copy received last, and the limit counts
    it once."""
    app = AppFactory()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    older, twice = uuid.uuid4(), uuid.uuid4()
    data.store(app.id, events=[{"event_id": older, "name": "install", "at": now - dt.timedelta(minutes=2)}])
    data.store_versions(
        app.id,
        [
            {"event_id": twice, "name": "sign_up", "at": now - dt.timedelta(minutes=1), "user_id": copy, **at}
            for copy, at in (
                ("first copy", {"received_at": now - dt.timedelta(minutes=1), "inserted_at": now}),
                ("second copy", {"received_at": now, "inserted_at": now + dt.timedelta(seconds=1)}),
            )
        ],
    )
    try:
        events = live_events.latest_events(
            app_id=app.id,
            received_since=now - dt.timedelta(hours=1),
            oldest_timestamp=now - dt.timedelta(days=1),
            limit=2,
        )
    finally:
        data.forget_events(app.id)
    assert [(e["event_id"], e["user_id"]) for e in events] == [(twice, "second copy"), (older, "")]
