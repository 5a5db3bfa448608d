"""Conversion kinds as AppsFlyer names them (issue 19, item 6): stored results of the old names are
renamed by ClickHouse migration 0031."""

import datetime as dt
import uuid

import pytest

from core import clickhouse
from core.clickhouse.migrator import apply, discover

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
