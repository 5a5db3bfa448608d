"""The report filters' one parser (pages and API): a date range is whole days of the app's time zone."""

import datetime as dt
import zoneinfo

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
    # The previous period is the two whole days before: 26 March starts at 23:00 UTC the day before.
    assert filters.previous_since == dt.datetime(2026, 3, 25, 23, tzinfo=dt.UTC)
    assert filters.previous_days == (dt.date(2026, 3, 26), dt.date(2026, 3, 27))
    assert (filters.first_day, filters.last_day) == (dt.date(2026, 3, 28), dt.date(2026, 3, 29))
    assert (filters.days, filters.model, filters.segment) == (2, "last_touch", {"country": "DE"})
    assert filters.query == "?date_from=2026-03-28&date_to=2026-03-29&model=last_touch&country=DE"


@pytest.mark.parametrize(
    ("now", "days", "first"), [("2026-03-30 21:30", 7, "2026-03-24"), ("2026-03-30 22:30", 1, "2026-03-31")]
)
def test_a_preset_period_is_whole_days_of_the_apps_time_zone_up_to_now(now, days, first, monkeypatch):
    """Today (in Berlin, UTC+2 from 29 March) counts as one of the N days, so every report of a preset
    covers the same days; the previous period is the N whole days before."""
    zone = zoneinfo.ZoneInfo("Europe/Berlin")
    moment = dt.datetime.fromisoformat(now).replace(tzinfo=dt.UTC)
    monkeypatch.setattr("dashboard.filters.timezone.now", lambda: moment)
    filters = report_filters(data={"days": str(days)}, default_model="linear", time_zone="Europe/Berlin")
    assert filters.until == moment
    first_day = dt.date.fromisoformat(first)
    assert filters.since == dt.datetime.combine(first_day, dt.time(), tzinfo=zone)
    assert (filters.first_day, filters.last_day) == (first_day, first_day + dt.timedelta(days=days - 1))
    assert filters.previous_days == (first_day - dt.timedelta(days=days), first_day - dt.timedelta(days=1))
    assert filters.previous_since == dt.datetime.combine(filters.previous_days[0], dt.time(), tzinfo=zone)


def test_a_preset_period_keeps_its_segment_in_links():
    filters = report_filters(data={"days": "14", "media_source": "meta", "platform": "ios"}, default_model="linear")
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
