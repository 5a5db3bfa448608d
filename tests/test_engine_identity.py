"""Which events are one device: the user id stands in for a device id only when the app says so
(issue 19 item 5). Defaults: re-attribution 90 d."""

import datetime as dt
import uuid

import pytest

from apps_registry import services as app_services
from tests import attribution_data as data
from tests.factories import AppFactory

pytestmark = pytest.mark.django_db

T = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)


def kinds(app, conversions) -> list[str]:
    return [data.results(app.id, conversion)["last_touch"]["conversion_kind"] for conversion in conversions]


def _installs_by_user_id_only(app) -> list[uuid.UUID]:
    first, second = uuid.uuid4(), uuid.uuid4()
    data.store(
        app.id,
        events=[
            {"event_id": first, "at": T - 30 * D, "user_id": "user-1"},
            {"event_id": second, "at": T, "user_id": "user-1"},
        ],
    )
    data.run(app, T - 30 * D - H, T + H)
    return [first, second]


def test_by_default_the_user_id_is_no_device():
    app = AppFactory()
    assert kinds(app, _installs_by_user_id_only(app)) == ["install", "install"]


def test_with_the_setting_on_the_user_id_is_the_device_of_events_without_a_device_id():
    app = AppFactory()
    app_services.settings_update(app=app, changed_by=app.owner, user_id_fallback=True)
    assert kinds(app, _installs_by_user_id_only(app)) == ["install", "reinstall"]


def test_the_setting_never_hides_a_device_id():
    app = AppFactory()
    app_services.settings_update(app=app, changed_by=app.owner, user_id_fallback=True)
    first, second = uuid.uuid4(), uuid.uuid4()
    data.store(
        app.id,
        events=[
            {"event_id": first, "at": T - 30 * D, "user_id": "user-1", "device_ids": {"gaid": "phone"}},
            {"event_id": second, "at": T, "user_id": "user-1", "device_ids": {"gaid": "tablet"}},
        ],
    )
    data.run(app, T - 30 * D - H, T + H)
    assert kinds(app, [first, second]) == ["install", "install"]
