"""Click and impression tracking: redirects, pixels, server-to-server, and what is stored."""

import datetime as dt

import orjson
import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps_registry import links
from core import clickhouse
from events import privacy
from tests.factories import UserFactory
from tests.ingestion import ANDROID_UA, DESKTOP_UA, DEVICE_IP, IOS_UA, app_with_key, count

pytestmark = pytest.mark.django_db


@pytest.fixture
def link_and_key():
    app, raw_key = app_with_key()
    link = links.link_create(
        app=app,
        created_by=UserFactory(),
        name="Spring",
        media_source="meta",
        campaign="spring",
        adset="lal",
        ad="video",
        site_id="feed",
        sub_params={"sub1": "x"},
        deep_link="puzzle://offer",
        ios_url="https://apps.apple.com/app/id123",
        android_url="https://play.google.com/store/apps/details?id=com.ex",
        web_url="https://example.com/landing?ref=ad",
    )
    return link, raw_key


def touches(app_id, *columns):
    return clickhouse.execute(
        f"SELECT {', '.join(columns)} FROM touchpoints WHERE app_id = {{a:UUID}} ORDER BY timestamp",
        {"a": app_id},
        tag="test.touches",
    ).dicts()


@pytest.mark.parametrize(
    ("agent", "prefix", "carrier"),
    [
        (IOS_UA, "https://apps.apple.com/app/id123?", "ump_click_id="),
        (ANDROID_UA, "https://play.google.com/store/apps/details?id=com.ex&referrer=", "ump_click_id%3D"),
        (DESKTOP_UA, "https://example.com/landing?ref=ad&", "ump_click_id="),
    ],
)
def test_a_click_redirects_to_the_visitors_store_with_the_click_id(link_and_key, store_all, agent, prefix, carrier):
    link, _ = link_and_key
    response = Client().get(
        f"/c/{link.code}?click_id=net-1&site_id=stories&idfa=ABC-DEF", HTTP_USER_AGENT=agent, REMOTE_ADDR=DEVICE_IP
    )
    assert response.status_code == 302
    assert response["Location"].startswith(prefix) and carrier in response["Location"]
    assert response["Cache-Control"] == "no-store"
    store_all(until=lambda: count("touchpoints", link.app_id) >= 1)
    row = touches(
        link.app_id,
        "touch_id",
        "touch_type",
        "media_source",
        "campaign",
        "adset",
        "ad",
        "site_id",
        "sub_params",
        "network_click_id",
        "device_id",
        "ip_prefix",
        "origin",
    )[0]
    assert row["touch_id"].hex in response["Location"]
    assert (row["touch_type"], row["media_source"], row["campaign"], row["adset"], row["ad"]) == (
        "click",
        "meta",
        "spring",
        "lal",
        "video",
    )
    assert (row["site_id"], row["network_click_id"], row["sub_params"]) == ("stories", "net-1", {"sub1": "x"})
    assert row["device_id"] == privacy.pseudonymize(str(link.app_id), "idfa", "ABC-DEF")
    assert row["ip_prefix"] == "203.0.113.0" and row["origin"] == "redirect"


def test_the_deep_link_travels_with_the_click(link_and_key):
    link, _ = link_and_key
    location = Client().get(f"/c/{link.code}", HTTP_USER_AGENT=IOS_UA)["Location"]
    assert "ump_dl=puzzle%3A%2F%2Foffer" in location


def test_unfilled_macros_are_not_taken_as_ids(link_and_key, store_all):
    link, _ = link_and_key
    Client().get(f"/c/{link.code}?click_id={{click_id}}&idfa={{idfa}}", HTTP_USER_AGENT=IOS_UA)
    store_all(until=lambda: count("touchpoints", link.app_id) >= 1)
    assert touches(link.app_id, "network_click_id", "device_id")[0] == {"network_click_id": "", "device_id": ""}


def test_an_unknown_or_archived_code_is_a_plain_404(link_and_key):
    link, _ = link_and_key
    unknown = Client().get("/c/NoSuchCode")
    assert unknown.status_code == 404 and unknown["Content-Type"].startswith("text/plain")
    links.link_update(link=link, status="archived")
    assert Client().get(f"/c/{link.code}").status_code == 404
    assert Client().get(f"/i/{link.code}").status_code == 404


def test_an_impression_answers_a_pixel_and_is_recorded(link_and_key, store_all):
    link, _ = link_and_key
    response = Client().get(f"/i/{link.code}?gaid=G-1", HTTP_USER_AGENT=ANDROID_UA)
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    store_all(until=lambda: count("touchpoints", link.app_id) >= 1)
    row = touches(link.app_id, "touch_type", "platform", "device_model", "device_id")[0]
    assert row == {
        "touch_type": "impression",
        "platform": "android",
        "device_model": "Pixel 9",
        "device_id": privacy.pseudonymize(str(link.app_id), "gaid", "G-1"),
    }


def test_server_to_server_touchpoints(link_and_key, store_all):
    link, raw_key = link_and_key
    yesterday = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    body = {
        "touchpoints": [
            {
                "type": "click",
                "link_code": link.code,
                "network_click_id": "n-9",
                "device_ids": {"gaid": "G-2"},
                "ip": "198.51.100.9",
                "user_agent": ANDROID_UA,
                "timestamp": yesterday,
            },
            {"type": "impression", "link_code": "nope", "timestamp": yesterday},
            {"type": "view", "link_code": link.code},
        ]
    }
    response = APIClient().generic(
        "POST", "/api/touchpoints", orjson.dumps(body), content_type="application/json", HTTP_X_API_KEY=raw_key
    )
    assert response.status_code == 202
    assert response.json()["accepted"] == 1
    assert [r["index"] for r in response.json()["rejected"]] == [1, 2]
    store_all(until=lambda: count("touchpoints", link.app_id) >= 1)
    row = touches(link.app_id, "origin", "network_click_id", "ip_prefix", "platform")[0]
    assert row == {"origin": "s2s", "network_click_id": "n-9", "ip_prefix": "198.51.100.0", "platform": "android"}
