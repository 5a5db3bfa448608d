"""Conversion kinds as AppsFlyer names them (issue 19, item 6): stored results of the old names are
renamed by ClickHouse migration 0031; in-app revenue inside a re-engagement window is the retargeting
source's in the revenue reports. Defaults: re-engagement window 30 d, inactivity 7 d, click lookback 7 d."""

import datetime as dt
import decimal
import uuid

import pytest

from core import clickhouse
from core.clickhouse.migrator import apply, discover
from dashboard import analytics
from dashboard.filters import report_filters
from tests import attribution_data as data
from tests.factories import AppFactory

pytestmark = pytest.mark.django_db

T = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
KINDS_SQL = """
SELECT conversion_id, conversion_kind FROM attributions FINAL WHERE app_id = {app_id:UUID} ORDER BY conversion_time
"""


def test_the_migration_renames_stored_new_installs_after_the_window_and_nothing_else():
    app_id = uuid.uuid4()
    stored = [(uuid.uuid4(), kind) for kind in ("install", "reattribution", "reinstall", "re_engagement")]
    clickhouse.insert(
        "attributions",
        [
            {
                "app_id": app_id,
                "conversion_id": conversion,
                "conversion_kind": kind,
                "conversion_time": T + i * dt.timedelta(hours=1),
            }
            for i, (conversion, kind) in enumerate(stored)
        ],
        columns=["app_id", "conversion_id", "conversion_kind", "conversion_time"],
        tag="test_engine_kinds",
    )
    (migration,) = [m for m in discover() if m.version == 31]
    apply(migration)
    rows = clickhouse.execute(KINDS_SQL, {"app_id": app_id}, tag="test_engine_kinds").rows
    assert rows == [
        (stored[0][0], "install"),
        (stored[1][0], "install"),
        (stored[2][0], "reinstall"),
        (stored[3][0], "re_engagement"),
    ]


# --- the re-engagement window: in-app revenue goes to the retargeting source -----------------------------

D0 = T - 60 * dt.timedelta(days=1)
H = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
WINDOW_SQL = """
SELECT conversion_kind, media_source, reengagement_window_end FROM attributions FINAL
WHERE app_id = {app_id:UUID} ORDER BY device_key, conversion_time
"""


PURCHASE_COLUMNS = (
    "app_id",
    "event_id",
    "event_name",
    "timestamp",
    "received_at",
    "device_id",
    "device_ids",
    "revenue",
    "currency",
    "consent",
)


def _purchases(app_id, purchases: list[tuple[str, dt.datetime, str]]) -> None:
    clickhouse.insert(
        "events",
        [
            {
                "app_id": app_id,
                "event_id": uuid.uuid4(),
                "event_name": "purchase",
                "timestamp": at,
                "received_at": at,
                "device_id": device,
                "device_ids": {"gaid": device},
                "revenue": decimal.Decimal(amount),
                "currency": "USD",
                "consent": True,
            }
            for device, at, amount in purchases
        ],
        columns=PURCHASE_COLUMNS,
        tag="test_engine_kinds",
    )


def test_revenue_in_the_re_engagement_window_goes_to_the_retargeting_source():
    """dev-1 installs through meta, comes back through a retargeting click after 19 days away (a
    re-engagement: its 30-day window runs from D0+20d to D0+50d); dev-2 installs through meta and
    reinstalls ten days later after a retargeting click (a re-attribution)."""
    app = AppFactory(currency="USD")
    data.store(
        app.id,
        touches=[
            {"at": D0 - H, "source": "meta", "device_ids": {"gaid": "dev-1"}},
            {"at": D0 - H, "source": "meta", "device_ids": {"gaid": "dev-2"}},
            {"at": D0 + 20 * DAY - H, "source": "retargeter", "device_ids": {"gaid": "dev-1"}},
            {"at": D0 + 10 * DAY - H, "source": "retargeter", "device_ids": {"gaid": "dev-2"}},
        ],
        events=[
            {"at": D0, "device_ids": {"gaid": "dev-1"}},
            {"at": D0, "device_ids": {"gaid": "dev-2"}},
            {"name": "open", "at": D0 + 20 * DAY, "device_ids": {"gaid": "dev-1"}},
            {"at": D0 + 10 * DAY, "device_ids": {"gaid": "dev-2"}},
        ],
    )
    _purchases(
        app.id,
        [
            ("dev-1", D0 + 2 * DAY, "10"),  # before the re-engagement: the install's
            ("dev-1", D0 + 21 * DAY, "5"),  # inside its window: the retargeting click's
            ("dev-1", D0 + 50 * DAY, "4"),  # at the window's end, inclusive: still the retargeting click's
            ("dev-1", D0 + 50 * DAY + H, "7"),  # after it: the install's again
            ("dev-2", D0 + 11 * DAY, "3"),  # after the re-attribution: the retargeting click's
        ],
    )
    data.run(app, D0 - H, D0 + 21 * DAY)
    rows = clickhouse.execute(WINDOW_SQL, {"app_id": app.id}, tag="test_engine_kinds").rows
    assert rows == [
        ("install", "meta", None),
        ("re_engagement", "retargeter", D0 + 50 * DAY),
        ("install", "meta", None),
        ("reattribution", "retargeter", D0 + 40 * DAY),
    ]

    period = {"date_from": (D0 - DAY).date().isoformat(), "date_to": (D0 + 55 * DAY).date().isoformat()}
    filters = report_filters(data=period, default_model="last_touch")
    by_source = {row["mediaSource"]: row["models"] for row in analytics.model_comparison(app=app, filters=filters)}
    assert set(by_source) == {"meta", "retargeter"}
    for model in by_source["meta"]:
        assert (model["installs"], decimal.Decimal(model["revenue"]["amount"])) == (2, 17), model["model"]
    for model in by_source["retargeter"]:
        assert (model["installs"], decimal.Decimal(model["revenue"]["amount"])) == (0, 12), model["model"]
    (sources,) = analytics.performance(app=app, filters=filters, levels=("source",)).values()
    campaigns = {
        row["mediaSource"]: (row["installs"], row["payingUsers"], decimal.Decimal(row["revenue"]["amount"]))
        for row in sources
    }
    # dev-2 bought only inside its re-attribution's window: no paying install of meta's
    assert campaigns == {"meta": (2, 1, 17), "retargeter": (0, 0, 12)}

    # A period that starts after both installs: the retargeting conversions in it keep their windows'
    # revenue (the installs before it are read no more than their purchases are counted).
    later = report_filters(
        data={"date_from": (D0 + 5 * DAY).date().isoformat(), "date_to": (D0 + 55 * DAY).date().isoformat()},
        default_model="last_touch",
    )
    by_source = {row["mediaSource"]: row["models"] for row in analytics.model_comparison(app=app, filters=later)}
    assert set(by_source) == {"retargeter"}
    for model in by_source["retargeter"]:
        assert (model["installs"], decimal.Decimal(model["revenue"]["amount"])) == (0, 12), model["model"]
    (sources,) = analytics.performance(app=app, filters=later, levels=("source",)).values()
    assert [
        (row["mediaSource"], row["installs"], row["payingUsers"], decimal.Decimal(row["revenue"]["amount"]))
        for row in sources
    ] == [("retargeter", 0, 0, 12)]
