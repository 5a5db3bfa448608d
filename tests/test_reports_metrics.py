"""The metric definitions: each once, every ratio over metrics that exist, no number from a zero."""

import pytest

from dashboard.metrics import METRICS, derive, select


def test_every_ratio_divides_metrics_that_are_defined():
    for metric in METRICS.values():
        assert metric.definition and metric.label
        assert bool(metric.sql) == bool(metric.source)
        if metric.ratio:
            assert set(metric.ratio) <= set(METRICS), metric.name
            assert not metric.sql


def test_derive_divides_and_gives_no_number_over_zero():
    row = {"cost": 30, "nonOrganicInstalls": 4, "revenue": 12.5, "installs": 0}
    assert derive(row, "ecpi", "arpu") == {**row, "ecpi": 7.5, "arpu": None}


def test_one_select_aggregates_one_table():
    assert select("clicks") == "sumIf(touches, touch_type = 'click') AS clicks"
    with pytest.raises(ValueError, match="not counted over one table"):
        select("clicks", "installs")
    with pytest.raises(ValueError):
        select("arpu")
