"""Through the real pipeline: clicks and installs posted to the endpoints, carried by the bus (the
outbox, or Kafka in the services configuration), stored by the consumer, attributed by the engine."""

import datetime as dt
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps_registry import links
from events.attribution_engine import services
from events.models import AttributionRun
from tests import attribution_data as data
from tests.conftest import PROJECT_DIR, database_url
from tests.factories import UserFactory, bearer, grant
from tests.ingestion import DEVICE_IP, IOS_UA, app_with_key, count, post_events

pytestmark = pytest.mark.django_db(transaction=True)


def test_touches_and_installs_sent_to_the_endpoints_are_attributed(store_all):
    app, raw_key = app_with_key()
    owner = UserFactory(role="user")
    grant(owner, app, "view_app", "view_analytics")
    link = links.link_create(
        app=app,
        created_by=owner,
        name="Spring",
        media_source="meta",
        campaign="spring",
        ios_url="https://apps.apple.com/app/id123",
    )
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    # A visitor clicks an ad on the phone: the store URL carries our click id to the app.
    redirect = Client().get(f"/c/{link.code}", HTTP_USER_AGENT=IOS_UA, REMOTE_ADDR=DEVICE_IP)
    assert redirect.status_code == 302
    click_id = parse_qs(urlsplit(redirect["Location"]).query)["ump_click_id"][0]
    # A network reports a click server to server with the device's advertising id.
    s2s = APIClient().post(
        "/api/touchpoints",
        orjson.dumps(
            {
                "touchpoints": [
                    {
                        "type": "click",
                        "link_code": link.code,
                        "device_ids": {"idfa": "IDFA-S2S"},
                        "timestamp": (now - dt.timedelta(hours=3)).isoformat(),
                    }
                ]
            }
        ),
        content_type="application/json",
        HTTP_X_API_KEY=raw_key,
    )
    assert s2s.status_code == 202, s2s.content

    by_click, by_device, organic = (str(uuid.uuid4()) for _ in range(3))
    later = (now + dt.timedelta(seconds=30)).isoformat()
    accepted = post_events(
        raw_key,
        [
            {"event_name": "install", "event_id": by_click, "timestamp": later, "attribution": {"click_id": click_id}},
            {"event_name": "install", "event_id": by_device, "timestamp": later, "device_ids": {"idfa": "idfa-s2s"}},
            {"event_name": "install", "event_id": organic, "timestamp": later, "device_ids": {"idfa": "OTHER"}},
        ],
    )
    assert accepted.status_code == 202, accepted.content
    store_all(until=lambda: count("touchpoints", app.id) >= 2 and count("events", app.id) >= 3)

    run = services.attribution_run(app=app, since=now - dt.timedelta(hours=1), until=now + dt.timedelta(hours=1))
    assert run.conversions == 3
    results = {event: data.results(app.id, uuid.UUID(event))["last_touch"] for event in (by_click, by_device, organic)}
    assert {event: (r["match_type"], r["media_source"]) for event, r in results.items()} == {
        by_click: ("click_id", "meta"),
        by_device: ("device_click", "meta"),  # device ids match after pseudonymisation (case-insensitive)
        organic: ("organic", ""),
    }
    assert results[by_click]["touch_id"].hex == click_id
    assert results[by_click]["ctit_seconds"] == pytest.approx(30, abs=2)

    explanation = APIClient().get(f"/api/apps/{app.id}/conversions/{by_device}/attribution", **bearer(owner))
    assert explanation.status_code == 200
    assert explanation.json()["decision"]["ctitSeconds"] == pytest.approx(3 * 3600 + 30)


def test_the_follow_command_runs_until_sigterm_and_records_its_runs(tmp_path):
    """`manage.py run_attribution --follow` in its own process (its own chdb store, the test's OLTP
    database): it attributes every active app each interval and stops cleanly on SIGTERM."""
    app, _ = app_with_key()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "CLICKHOUSE", "KAFKA", "REDIS"))},
        "DATABASE_URL": database_url(),
        "VAR_DIR": str(tmp_path),
        "ATTRIBUTION_SETTLE_SECONDS": "0",
        "ATTRIBUTION_INTERVAL_SECONDS": "0.5",
    }
    migrated = subprocess.run(
        [sys.executable, "manage.py", "migrate_clickhouse"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr
    follow = subprocess.Popen(
        [sys.executable, "manage.py", "run_attribution", "--follow", "--app", str(app.id)],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while AttributionRun.objects.filter(app=app, mode=AttributionRun.Mode.FOLLOW).count() < 2:
            assert follow.poll() is None, follow.communicate()[1]
            assert time.monotonic() < deadline, "no two follow runs within 60 s"
            time.sleep(0.2)
        follow.send_signal(signal.SIGTERM)
        out, err = follow.communicate(timeout=30)
    finally:
        if follow.poll() is None:
            follow.kill()
    assert follow.returncode == 0, err
    assert "stopped cleanly" in out
    runs = list(AttributionRun.objects.filter(app=app).order_by("window_end"))
    assert all(later.window_start == earlier.window_end for earlier, later in itertools.pairwise(runs))
