"""Model comparison and fraud on a hand-computed scenario sent through the real endpoints.

The app (UTC, US dollars) has a time-decay half-life of 1 day. On day D at 12:00:
  devM  clicked meta two days before and google one day before, installed, bought for 12 USD
  devO  installed with no touch (organic)
  devF  clicked tiktok 5 s before installing: click injection (minimum 10 s), flagged and kept
Credits of devM's path [meta, google]: last touch google; first touch meta; linear and position based
(two touches: 40/20/40 has no middle) one half each; time decay weights 2^-2 and 2^-1, so a third and
two thirds; data-driven whatever the Markov removal effects say, summing to one.
"""

import datetime as dt

import orjson
import pytest
from rest_framework.test import APIClient

from apps_registry import links
from apps_registry import services as app_services
from events.attribution_engine import services
from tests.factories import UserFactory, bearer, grant
from tests.ingestion import app_with_key, count, post_events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def scenario(store_all):
    app, raw_key = app_with_key()
    reader = UserFactory(role="user")
    grant(reader, app, "view_app", "view_analytics")
    app_services.settings_update(app=app, changed_by=reader, time_decay_half_life_days=1)
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)
    t0 = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)

    def code(source):
        return links.link_create(
            app=app, created_by=reader, name=source, media_source=source, campaign="c", ios_url="https://example.com/"
        ).code

    touches = [
        {"link_code": code("meta"), "device": "DEVM", "at": t0 - dt.timedelta(days=2)},
        {"link_code": code("google"), "device": "DEVM", "at": t0 - dt.timedelta(days=1)},
        {"link_code": code("tiktok"), "device": "DEVF", "at": t0 - dt.timedelta(seconds=5)},
    ]
    body = {
        "touchpoints": [
            {
                "type": "click",
                "link_code": t["link_code"],
                "device_ids": {"idfa": t["device"]},
                "timestamp": t["at"].isoformat(),
            }
            for t in touches
        ]
    }
    answer = APIClient().post(
        "/api/touchpoints", orjson.dumps(body), content_type="application/json", HTTP_X_API_KEY=raw_key
    )
    assert answer.status_code == 202, answer.content
    events = [
        *(
            {"event_name": "install", "timestamp": t0.isoformat(), "device_ids": {"idfa": d}}
            for d in ("DEVM", "DEVO", "DEVF")
        ),
        {
            "event_name": "purchase",
            "timestamp": (t0 + dt.timedelta(hours=1)).isoformat(),
            "device_ids": {"idfa": "DEVM"},
            "revenue": 12,
            "currency": "USD",
        },
    ]
    assert post_events(raw_key, events).status_code == 202
    store_all(until=lambda: count("events", app.id) >= 4 and count("touchpoints", app.id) >= 3)
    services.attribution_run(app=app, since=t0 - dt.timedelta(days=1), until=t0 + dt.timedelta(days=1))
    return {"reader": reader, "query": f"app_id={app.id}&date_from={day}&date_to={day}"}


def get(path, scenario):
    return APIClient().get(f"{path}?{scenario['query']}", **bearer(scenario["reader"]))


def usd(amount: str) -> dict:
    return {"currency": "USD", "amount": amount, "unconverted": []}


def test_the_six_models_side_by_side(scenario):
    rows = get("/api/analytics/models", scenario).json()["rows"]
    assert [row["mediaSource"] for row in rows] == ["google", "meta", "organic", "tiktok"]
    by_source = {row["mediaSource"]: {m["model"]: m for m in row["models"]} for row in rows}
    expected = {  # model -> (google installs, google revenue, meta installs, meta revenue)
        "last_touch": (1.0, "12.0000", 0.0, "0.0000"),
        "first_touch": (0.0, "0.0000", 1.0, "12.0000"),
        "linear": (0.5, "6.0000", 0.5, "6.0000"),
        "time_decay": (0.666667, "8.0000", 0.333333, "4.0000"),
        "position_based": (0.5, "6.0000", 0.5, "6.0000"),
    }
    for model, (google, google_revenue, meta, meta_revenue) in expected.items():
        assert by_source["google"][model]["installs"] == google, model
        assert by_source["google"][model]["revenue"] == usd(google_revenue), model
        assert by_source["meta"][model]["installs"] == meta, model
        assert by_source["meta"][model]["revenue"] == usd(meta_revenue), model
    assert by_source["google"]["data_driven"]["installs"] + by_source["meta"]["data_driven"]["installs"] == 1.0
    for model in (*expected, "data_driven"):
        assert by_source["organic"][model]["installs"] == by_source["tiktok"][model]["installs"] == 1.0
    lines = b"".join(get("/api/analytics/models.csv", scenario).streaming_content).decode().splitlines()
    assert lines[0].startswith("mediaSource,last_touchInstalls,last_touchRevenue,last_touchRevenueUnconverted,")
    assert lines[1].startswith("google,1.0,12.0000,,0.0,0.0000,,0.5,6.0000,,0.666667,8.0000,,0.5,6.0000,,")


def test_the_answers_have_the_documented_shapes(scenario, client):
    from tests.test_openapi import _documented_response_schema, validator

    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in ("/api/analytics/models", "/api/analytics/fraud", "/api/analytics/click-to-install"):
        documented = _documented_response_schema(schema, "GET", path, 200)
        errors = [e.message for e in validator(schema, documented, strict=True).iter_errors(get(path, scenario).json())]
        assert errors == [], path


def test_fraud_counts_flagged_installs_per_source_and_reason(scenario):
    body = get("/api/analytics/fraud", scenario).json()
    assert body["rows"] == [{"mediaSource": "tiktok", "reason": "click_injection", "status": "flagged", "installs": 1}]
    lines = b"".join(get("/api/analytics/fraud.csv", scenario).streaming_content).decode().splitlines()
    assert lines == ["mediaSource,reason,status,installs", "tiktok,click_injection,flagged,1"]


def test_click_to_install_times_per_source(scenario):
    rows = get("/api/analytics/click-to-install", scenario).json()["rows"]
    assert rows == [
        {"mediaSource": "google", "fromSeconds": 86400, "toSeconds": 604800, "installs": 1},  # one day
        {"mediaSource": "tiktok", "fromSeconds": 0, "toSeconds": 10, "installs": 1},  # five seconds
    ]
    lines = b"".join(get("/api/analytics/click-to-install.csv", scenario).streaming_content).decode().splitlines()
    assert lines == ["mediaSource,fromSeconds,toSeconds,installs", "google,86400,604800,1", "tiktok,0,10,1"]
