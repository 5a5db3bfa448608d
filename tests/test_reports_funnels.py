"""Funnels on a hand-computed scenario sent through the real endpoints.

The app (UTC) on day D (twelve days ago) at 12:00 (t0):
  devA  clicked google two hours and meta one hour before, installed at t0, signed up at +1 h, bought at +2 h
  devB  installed at t0 (organic), bought at +1 h, signed up at +2 h: the purchase came first
  devC  clicked google an hour before, installed at t0, signed up at +1 h, bought 8 days later
  devD  never installed (on record): signed up at +3 h, bought at +4 h
  devE  installed, signed up and bought the day after D: outside the period
devC is on Android, the others on iOS.
install -> sign_up -> purchase in 7 days: 3 installs (A, B, C), 3 sign-ups after them, 1 purchase
after those (A: B's is before its sign-up, C's is past the window); in 9 days C's purchase counts.
sign_up -> purchase: A, B, C, D sign up (4), A and D buy after (2).
Split by source: last touch credits A to meta; linear half to meta, half to google.
"""

import datetime as dt
import io
import re

import orjson
import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from apps_registry import links
from events.attribution_engine import services
from tests.factories import UserFactory, bearer, grant
from tests.ingestion import app_with_key, count, post_events

pytestmark = pytest.mark.django_db(transaction=True)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def scenario(store_all):
    app, raw_key = app_with_key()
    reader = UserFactory(role="user")
    grant(reader, app, "view_app", "view_analytics")
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=12)
    t0 = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)

    def code(source):
        return links.link_create(
            app=app, created_by=reader, name=source, media_source=source, campaign="c", ios_url="https://example.com/"
        ).code

    links_by_source = {source: code(source) for source in ("meta", "google")}
    clicks = [("google", "DEVA", 2), ("meta", "DEVA", 1), ("google", "DEVC", 1)]  # (source, device, hours before)
    body = {
        "touchpoints": [
            {
                "type": "click",
                "link_code": links_by_source[source],
                "device_ids": {"idfa": device},
                "timestamp": (t0 - hours * HOUR).isoformat(),
            }
            for source, device, hours in clicks
        ]
    }
    answer = APIClient().post(
        "/api/touchpoints", orjson.dumps(body), content_type="application/json", HTTP_X_API_KEY=raw_key
    )
    assert answer.status_code == 202, answer.content
    day_after = t0 + dt.timedelta(days=1)
    timeline = [
        ("DEVA", "install", t0),
        ("DEVA", "sign_up", t0 + HOUR),
        ("DEVA", "purchase", t0 + 2 * HOUR),
        ("DEVB", "install", t0),
        ("DEVB", "purchase", t0 + HOUR),
        ("DEVB", "sign_up", t0 + 2 * HOUR),
        ("DEVC", "install", t0),
        ("DEVC", "sign_up", t0 + HOUR),
        ("DEVC", "purchase", t0 + dt.timedelta(days=8)),
        ("DEVD", "sign_up", t0 + 3 * HOUR),
        ("DEVD", "purchase", t0 + 4 * HOUR),
        ("DEVE", "install", day_after),
        ("DEVE", "sign_up", day_after + HOUR),
        ("DEVE", "purchase", day_after + 2 * HOUR),
    ]
    events = [
        {
            "event_name": name,
            "timestamp": at.isoformat(),
            "device_ids": {"idfa": device},
            "platform": "android" if device == "DEVC" else "ios",
            **({"revenue": 5, "currency": "USD"} if name == "purchase" else {}),
        }
        for device, name, at in timeline
    ]
    assert post_events(raw_key, events).status_code == 202
    store_all(until=lambda: count("events", app.id) >= len(events) and count("touchpoints", app.id) >= 3)
    services.attribution_run(app=app, since=t0 - dt.timedelta(days=1), until=t0 + dt.timedelta(days=2))
    return {"reader": reader, "app": app, "day": day, "query": f"app_id={app.id}&date_from={day}&date_to={day}"}


def get(scenario, parameters: str, path: str = "/api/analytics/funnel"):
    return APIClient().get(f"{path}?{scenario['query']}&{parameters}", **bearer(scenario["reader"]))


def steps(*counts_and_ratios) -> list[dict]:
    return [
        {"step": name, "devices": devices, "conversionFromPrevious": previous, "conversionFromFirst": first}
        for name, devices, previous, first in counts_and_ratios
    ]


def test_an_install_funnel_counts_steps_in_order_within_the_window(scenario):
    body = get(scenario, "steps=install&steps=sign_up&steps=purchase").json()
    assert (body["steps"], body["window"], body["split"], body["rows"]) == (
        ["install", "sign_up", "purchase"],
        7,
        "",
        None,
    )
    assert body["total"] == steps(
        ("install", 3.0, None, None), ("sign_up", 3.0, 1.0, 1.0), ("purchase", 1.0, 0.333333, 0.333333)
    )
    wider = get(scenario, "steps=install,sign_up,purchase&window=9").json()
    assert [s["devices"] for s in wider["total"]] == [3.0, 3.0, 2.0]
    assert wider["total"][2]["conversionFromFirst"] == 0.666667


def test_order_matters(scenario):
    reversed_steps = get(scenario, "steps=install,purchase,sign_up").json()["total"]
    # A and B bought after installing; B alone signed up after buying.
    assert [s["devices"] for s in reversed_steps] == [3.0, 2.0, 1.0]


def test_a_funnel_of_events_split_by_the_install_source(scenario):
    body = get(scenario, "steps=sign_up,purchase&split=source").json()
    assert [s["devices"] for s in body["total"]] == [4.0, 2.0]
    by_source = {row["mediaSource"]: [s["devices"] for s in row["steps"]] for row in body["rows"]}
    assert list(by_source) == ["google", "meta", "organic", None]
    assert by_source == {"google": [1.0, 0.0], "meta": [1.0, 1.0], "organic": [1.0, 0.0], None: [1.0, 1.0]}
    lines = b"".join(
        get(scenario, "steps=sign_up,purchase&split=source", "/api/analytics/funnel.csv").streaming_content
    )
    assert lines.decode().splitlines() == [
        "mediaSource,step,devices,conversionFromPrevious,conversionFromFirst",
        "google,sign_up,1.0,,",
        "google,purchase,0.0,0.0,0.0",
        "meta,sign_up,1.0,,",
        "meta,purchase,1.0,1.0,1.0",
        "organic,sign_up,1.0,,",
        "organic,purchase,0.0,0.0,0.0",
        ",sign_up,1.0,,",
        ",purchase,1.0,1.0,1.0",
    ]


def test_a_device_weighs_as_its_install_before_the_period(scenario):
    # Eight days after D, devC's purchase is the only first step; its install (google) came before.
    later = scenario["day"] + dt.timedelta(days=8)
    body = (
        APIClient()
        .get(
            f"/api/analytics/funnel?app_id={scenario['app'].id}&date_from={later}&date_to={later}"
            "&steps=purchase,sign_up&split=source",
            **bearer(scenario["reader"]),
        )
        .json()
    )
    assert [s["devices"] for s in body["total"]] == [1.0, 0.0]
    assert {row["mediaSource"]: [s["devices"] for s in row["steps"]] for row in body["rows"]} == {"google": [1.0, 0.0]}


def test_under_a_multi_touch_model_a_device_splits_by_its_credits(scenario):
    body = get(scenario, "steps=install,sign_up,purchase&split=source&model=linear").json()
    by_source = {row["mediaSource"]: [s["devices"] for s in row["steps"]] for row in body["rows"]}
    assert by_source == {"google": [1.5, 1.5, 0.5], "meta": [0.5, 0.5, 0.5], "organic": [1.0, 1.0, 0.0]}
    assert [s["devices"] for s in body["total"]] == [3.0, 3.0, 1.0]
    assert body["rows"][0]["steps"][2]["conversionFromFirst"] == 0.333333  # google: 0.5 of 1.5


def test_a_media_source_filter_keeps_the_devices_its_installs_credit(scenario):
    meta = get(scenario, "steps=install,sign_up,purchase&media_source=meta").json()["total"]
    assert [s["devices"] for s in meta] == [1.0, 1.0, 1.0]


def test_a_platform_filter_narrows_the_installs_and_the_events(scenario):
    android = get(scenario, "steps=install,sign_up,purchase&platform=android&window=9").json()["total"]
    assert [s["devices"] for s in android] == [1.0, 1.0, 1.0]  # devC, its purchase 8 days on
    ios = get(scenario, "steps=install,sign_up,purchase&platform=ios").json()["total"]
    assert [s["devices"] for s in ios] == [2.0, 2.0, 1.0]  # devA and devB; devB signed up after buying


def test_the_answer_has_the_documented_shape(scenario, client):
    from tests.test_openapi import _documented_response_schema, validator

    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    documented = _documented_response_schema(schema, "GET", "/api/analytics/funnel", 200)
    for parameters in ("steps=install,sign_up", "steps=sign_up,purchase&split=source"):
        answer = get(scenario, parameters).json()
        assert [e.message for e in validator(schema, documented, strict=True).iter_errors(answer)] == [], parameters


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ("steps=install", "steps"),
        ("", "steps"),
        ("steps=sign_up,install", "steps"),
        ("steps=sign_up,sign_up", "steps"),
        ("steps=a,b,c,d,e,f,g,h,i", "steps"),
        ("steps=sign_up,%3Cscript%3E", "steps"),
        ("steps=install,sign_up&window=31", "window"),
        ("steps=install,sign_up&split=country", "split"),
    ],
)
def test_a_bad_funnel_is_a_400_naming_the_field(parameters, field):
    user = UserFactory(role="user")
    app, _ = app_with_key()
    grant(user, app, "view_app", "view_analytics")
    for path in ("/api/analytics/funnel", "/api/analytics/funnel.csv"):
        answer = APIClient().get(f"{path}?app_id={app.id}&{parameters}", **bearer(user))
        assert answer.status_code == 400, (path, answer.content)
        assert field in answer.json()["extra"], answer.json()


def test_export_report_writes_the_apis_csv(scenario, tmp_path):
    day = scenario["query"].split("date_from=")[1].split("&")[0]
    app = scenario["app"]
    for report, parameters in [
        ("funnel", ["steps=install", "steps=sign_up,purchase", "split=source"]),
        ("campaigns", ["level=campaign", "model=linear"]),
        ("models", []),
    ]:
        target = tmp_path / f"{report}.csv"
        call_command(
            "export_report",
            report,
            "--app",
            str(app.id),
            f"date_from={day}",
            f"date_to={day}",
            *parameters,
            output=str(target),
        )
        query = "&".join(parameters)
        api = b"".join(get(scenario, query, f"/api/analytics/{report}.csv").streaming_content)
        assert target.read_bytes() == api, report
        assert api.count(b"\r\n") > 1, report  # a header and rows: the comparison means something
    printed = io.StringIO()
    call_command(
        "export_report",
        "funnel",
        "--app",
        str(app.id),
        f"date_from={day}",
        f"date_to={day}",
        "steps=sign_up,purchase",
        stdout=printed,
    )
    assert printed.getvalue().splitlines() == [
        "step,devices,conversionFromPrevious,conversionFromFirst",
        "sign_up,4.0,,",
        "purchase,2.0,0.5,0.5",
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["nonsense"], "No report 'nonsense': choose one of campaigns, series, models"),
        (["funnel", "steps=install"], "Invalid report parameters."),
        (["campaigns", "country=de"], "Invalid report filters."),
        (["campaigns", "level=brand"], "Invalid report parameters."),
        (["campaigns", "contry=DE"], "The campaigns report takes no 'contry'"),
        (["campaigns", "level"], "'level' is not name=value."),
        (["series", "media_source=meta"], "The time series counts activity"),
    ],
)
def test_export_report_refuses_bad_input_clearly(arguments, message):
    app, _ = app_with_key()
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("export_report", arguments[0], "--app", str(app.id), *arguments[1:], stdout=io.StringIO())


def test_export_report_refuses_an_unknown_app():
    with pytest.raises(CommandError, match="No app with id 'x'"):
        call_command("export_report", "models", "--app", "x")


def test_the_date_range_is_of_the_apps_days(scenario):
    """In UTC, the day after D holds devE's install alone. On Kiritimati (UTC+14) that day runs from
    10:00 UTC on D to 10:00 UTC the day after: A, B and C's installs at 12:00 UTC on D, not E's."""
    app = scenario["app"]
    day_after = dt.date.fromisoformat(scenario["query"].split("date_from=")[1][:10]) + dt.timedelta(days=1)
    query = f"app_id={app.id}&date_from={day_after}&date_to={day_after}&steps=install,sign_up,purchase"
    utc = APIClient().get(f"/api/analytics/funnel?{query}", **bearer(scenario["reader"])).json()
    assert utc["timeZone"] == "UTC" and [s["devices"] for s in utc["total"]] == [1.0, 1.0, 1.0]
    app.timezone = "Pacific/Kiritimati"
    app.save(update_fields=["timezone"])
    kiritimati = APIClient().get(f"/api/analytics/funnel?{query}", **bearer(scenario["reader"])).json()
    assert kiritimati["timeZone"] == "Pacific/Kiritimati"
    assert [s["devices"] for s in kiritimati["total"]] == [3.0, 3.0, 1.0]


def test_the_step_pickers_offer_the_apps_event_names_most_frequent_first(scenario):
    """Up to a moment inside an hour (14:30 on day D, the hour's first half read from the raw events):
    three installs and three sign-ups (A's and C's at 13:00, B's at 14:00), two purchases (B's at 13:00,
    A's at 14:00); over the whole scenario five sign-ups and five purchases, four installs."""
    from dashboard import funnels

    day = dt.datetime.combine(scenario["day"], dt.time(12), tzinfo=dt.UTC)
    names = funnels.event_names(app=scenario["app"], until=day + 2.5 * HOUR)
    assert names == ["install", "sign_up", "purchase"]
    assert funnels.event_names(app=scenario["app"], until=dt.datetime.now(dt.UTC)) == ["purchase", "sign_up", "install"]
