"""The dashboard's stats read the engine's results: installs are new installs, not install events."""

import datetime as dt

import pytest

from events.attribution_engine import services
from tests.factories import UserFactory, bearer, grant
from tests.ingestion import app_with_key, count, post_events

pytestmark = pytest.mark.django_db(transaction=True)


def test_stats_count_the_engines_new_installs_not_install_events(api, store_all):
    app, raw_key = app_with_key()
    reader = UserFactory(role="user")
    grant(reader, app, "view_app", "view_analytics")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    hour = dt.timedelta(hours=1)
    installs = [
        {"event_name": "install", "timestamp": (now - 3 * hour).isoformat(), "device_ids": {"idfa": "A"}},
        # the same device again within the re-attribution window: a reinstall, no new install
        {"event_name": "install", "timestamp": (now - 2 * hour).isoformat(), "device_ids": {"idfa": "A"}},
        {"event_name": "install", "timestamp": (now - 2 * hour).isoformat(), "device_ids": {"idfa": "B"}},
    ]
    assert post_events(raw_key, installs).status_code == 202
    store_all(until=lambda: count("events", app.id) >= 3)
    services.attribution_run(app=app, since=now - 4 * hour, until=now)

    stats = api.get(f"/api/dashboard/stats?app_id={app.id}&days=1", **bearer(reader)).json()
    assert stats["totalEvents"] == 3
    assert stats["installs"] == 2
