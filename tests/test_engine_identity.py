"""Which events are one device: the ids seen together on one install (issue 19 item 3), and the user id
only when the app says so (item 5). Defaults: re-attribution 90 d, inactivity 7 d, click lookback 7 d."""

import datetime as dt
import uuid

import pytest

from apps_registry import services as app_services
from dashboard import explanation
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


# --- one device across its ids ------------------------------------------------------------------------
IDFV = {"idfv": "vendor-1"}
BOTH = {"idfa": "ads-1", "idfv": "vendor-1"}  # the IDFA first: the event's own device key
IDFA = {"idfa": "ads-1"}


def test_an_install_with_idfa_and_idfv_after_one_with_idfv_only_is_a_reinstall():
    app = AppFactory()
    first, second = uuid.uuid4(), uuid.uuid4()
    data.store(
        app.id,
        touches=[{"type": "impression", "at": T - H, "device_ids": IDFA}],
        events=[
            {"event_id": first, "at": T - 30 * D, "device_ids": IDFV},
            {"event_id": second, "at": T, "device_ids": BOTH},
        ],
    )
    data.run(app, T - 30 * D - H, T + H)
    assert kinds(app, [first, second]) == ["install", "reinstall"]


def test_a_conversion_matches_touches_of_every_id_of_its_device():
    app = AppFactory()
    conversion, click = uuid.uuid4(), uuid.uuid4()
    data.store(
        app.id,
        touches=[{"touch_id": click, "at": T - 2 * H, "device_ids": IDFA}],
        events=[{"at": T - 120 * D, "device_ids": BOTH}, {"event_id": conversion, "at": T, "device_ids": IDFV}],
    )
    data.run(app, T - H, T + H)
    result = data.results(app.id, conversion)["last_touch"]
    assert (result["conversion_kind"], result["match_type"], result["touch_id"]) == (
        "install",
        "device_click",
        click,
    )


def test_an_explanation_reads_the_device_of_its_conversion_as_the_engine_does():
    """The explanation reads only the rows of its conversion's device: every id of it, and no id that
    merely shared an install with one of them but is another device's (labelled by a smaller id)."""
    app = AppFactory()
    conversion, click, elsewhere = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    data.store(
        app.id,
        touches=[
            {"touch_id": click, "at": T - 2 * H, "device_ids": IDFA},
            {"touch_id": elsewhere, "at": T - H, "device_ids": {"oaid": "b-other"}},
        ],
        events=[
            {"at": T - 120 * D, "device_ids": BOTH},
            {"at": T - 110 * D, "device_ids": {"idfa": "ads-1", "oaid": "b-other"}},
            {"at": T - 100 * D, "device_ids": {"gaid": "a-zero", "oaid": "b-other"}},  # b-other is a-zero's
            {"event_id": conversion, "at": T, "device_ids": IDFV},
        ],
    )
    data.run(app, T - H, T + H)
    result = data.results(app.id, conversion)["last_touch"]
    assert (result["conversion_kind"], result["touch_id"]) == ("install", click)
    explained = explanation.conversion_explanation(app=app, conversion_id=conversion)
    assert [c["touchId"] for c in explained["candidates"]] == [str(click)]
    assert explained["decision"]["touchId"] == str(click)


def test_activity_under_another_id_of_the_device_is_no_inactivity():
    app = AppFactory()
    conversion = uuid.uuid4()
    data.store(
        app.id,
        touches=[{"at": T - H, "device_ids": IDFA}],
        events=[
            {"at": T - 30 * D, "device_ids": BOTH},
            {"name": "session_start", "at": T - 2 * D, "device_ids": IDFV},
            {"event_id": conversion, "name": "open", "at": T, "device_ids": IDFA},
        ],
    )
    data.run(app, T - H, T + H)
    assert data.results(app.id, conversion) == {}
