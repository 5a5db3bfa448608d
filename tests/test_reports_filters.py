"""The report filters' one parser (pages and API): a date range is whole days of the app's time zone."""

import datetime as dt

import pytest

from dashboard.filters import BadFilters, report_filters


def test_a_date_range_is_whole_days_in_the_apps_time_zone():
    filters = report_filters(
        data={"date_from": "2026-03-28", "date_to": "2026-03-29", "country": "DE", "days": "30"},
        default_model="last_touch",
        time_zone="Europe/Berlin",
    )
    # 28 March starts at UTC+1; Berlin moves to UTC+2 on the 29th, so the 30th starts at 22:00 UTC.
    assert filters.since == dt.datetime(2026, 3, 27, 23, tzinfo=dt.UTC)
    assert filters.until == dt.datetime(2026, 3, 29, 22, tzinfo=dt.UTC)
    assert filters.previous_since == dt.datetime(2026, 3, 26, 0, tzinfo=dt.UTC)
    assert (filters.days, filters.model, filters.segment) == (2, "last_touch", {"country": "DE"})
    assert filters.query == "?date_from=2026-03-28&date_to=2026-03-29&model=last_touch&country=DE"


def test_a_preset_period_ends_now_and_keeps_its_segment_in_links():
    filters = report_filters(data={"days": "14", "media_source": "meta", "platform": "ios"}, default_model="linear")
    assert filters.until - filters.since == dt.timedelta(days=14)
    assert filters.query == "?days=14&model=linear&platform=ios&media_source=meta"
    assert [field.name for field in filters.form.primary()] == ["days", "model"], "the filter bar's first row"
    more = {field.name: field.value() for field in filters.form.more()}
    assert more == {
        "date_from": None,
        "date_to": None,
        "platform": "ios",
        "country": "",
        "media_source": "meta",
        "campaign": "",
    }


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"date_from": "2026-03-28"}, "date_to"),
        ({"date_from": "2026-03-28", "date_to": "2026-03-01"}, "date_to"),
        ({"date_from": "2020-01-01", "date_to": "2026-01-01"}, "date_to"),
        ({"platform": "symbian"}, "platform"),
        ({"country": "Germany"}, "country"),
    ],
)
def test_bad_filters_name_the_field(data, field):
    with pytest.raises(BadFilters) as bad:
        report_filters(data=data, default_model="last_touch")
    assert list(bad.value.form.errors) == [field]
