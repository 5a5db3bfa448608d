"""Report filters, read from the URL by the pages and the analytics API alike (one parser): any view of
a report is a link to share, and the same link shows the same view (a preset period is relative to
the moment it is opened, as in AppsFlyer and Adjust).

The period is whole days of the app's time zone: a preset (``days``: the last N days, today so far
counting as one) or a date range (``date_from`` and ``date_to``, both
inclusive), which wins when given. Every report of a preset covers the same days, the imported cost
of those days included; the previous period compared with is the N whole days before. Platform,
country, media source and campaign narrow the report; the attribution model picks the credits.
"""

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.core.validators import RegexValidator
from django.utils import timezone

from apps_registry.models import AttributionSettings
from events.attribution_engine.rules import MODELS

PERIODS = {1: "Today", 7: "Last 7 days", 14: "Last 14 days", 30: "Last 30 days", 90: "Last 90 days"}
DEFAULT_DAYS = 7
MAX_RANGE_DAYS = 731
PLATFORMS = {"": "All platforms", "ios": "iOS", "android": "Android", "web": "Web"}
MODEL_NAMES = dict(AttributionSettings.Model.choices)  # as the settings page names them
assert set(MODEL_NAMES) == set(MODELS), "every model of the engine has a name here"
# The segment filters: URL parameter -> the column it narrows (events, touchpoints, attributions' paths).
SEGMENTS = ("platform", "country", "media_source", "campaign")
EVENT_SEGMENTS = SEGMENTS[:2]  # those an event's own columns answer
FIELDS = ("days", "date_from", "date_to", "model", *SEGMENTS)


class FiltersForm(forms.Form):
    PRIMARY = ("days", "model")  # the pages' filter bar shows these; the others under "More filters"

    days = forms.TypedChoiceField(
        label="Period",
        choices=[*PERIODS.items(), ("", "Custom dates")],
        coerce=int,
        required=False,
        empty_value=None,
    )
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    model = forms.ChoiceField(label="Attribution model", choices=list(MODEL_NAMES.items()), required=False)
    platform = forms.ChoiceField(label="Platform", choices=list(PLATFORMS.items()), required=False)
    country = forms.CharField(
        label="Country",
        required=False,
        max_length=2,
        validators=[RegexValidator(r"^[A-Z]{2}$", "Use a two-letter ISO 3166 code in capitals, e.g. DE.")],
    )
    media_source = forms.CharField(label="Media source", required=False, max_length=100)
    campaign = forms.CharField(label="Campaign", required=False, max_length=200)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if (start is None) != (end is None) and not self.errors:
            self.add_error("date_to" if end is None else "date_from", "Give both ends of the date range.")
        elif start and end and end < start:
            self.add_error("date_to", "The range ends before it starts.")
        elif start and end and (end - start).days + 1 > MAX_RANGE_DAYS:
            self.add_error("date_to", f"A range spans at most {MAX_RANGE_DAYS} days.")
        return cleaned

    def primary(self) -> list:
        return [self[name] for name in self.fields if name in self.PRIMARY]

    def more(self) -> list:
        return [self[name] for name in self.fields if name not in self.PRIMARY]


@dataclass(frozen=True)
class Filters:
    model: str
    since: dt.datetime
    until: dt.datetime
    time_zone: str
    days: int  # the period's length in days (today counting as one)
    form: FiltersForm
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    platform: str = ""
    country: str = ""
    media_source: str = ""
    campaign: str = ""

    @property
    def event_segments(self) -> tuple[str, ...]:
        """The names of the ``EVENT_SEGMENTS`` that narrow the report."""
        return tuple(name for name in EVENT_SEGMENTS if getattr(self, name))

    @property
    def first_day(self) -> dt.date:
        """The period's first day in the app's time zone."""
        return self.since.astimezone(zoneinfo.ZoneInfo(self.time_zone)).date()

    @property
    def last_day(self) -> dt.date:
        """The period's last day in the app's time zone (today for a preset)."""
        return (self.until - dt.timedelta(microseconds=1)).astimezone(zoneinfo.ZoneInfo(self.time_zone)).date()

    @property
    def previous_days(self) -> tuple[dt.date, dt.date]:
        """The first and last day of the previous period: the period's number of whole days just before it."""
        return self.first_day - dt.timedelta(days=self.days), self.first_day - dt.timedelta(days=1)

    @property
    def previous_since(self) -> dt.datetime:
        """The start of the previous period (``previous_days``); it ends where this one starts."""
        return _day_start(self.previous_days[0], zoneinfo.ZoneInfo(self.time_zone))

    @property
    def cost_applies(self) -> bool:
        """Whether imported spend answers for these filters: it carries no platform and no country."""
        return not (self.platform or self.country)

    @property
    def segment(self) -> dict[str, str]:
        """The segment filters that are set, by name."""
        return {name: getattr(self, name) for name in SEGMENTS if getattr(self, name)}

    @property
    def query(self) -> str:
        """The filters as a query string, for links that keep them."""
        period = (
            {"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat()}
            if self.date_from
            else {"days": self.days}
        )
        return "?" + urlencode({**period, "model": self.model, **self.segment})


class BadFilters(Exception):
    def __init__(self, form: FiltersForm):
        super().__init__("bad report filters")
        self.form = form


def _day_start(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)


def report_filters(*, data, default_model: str, time_zone: str = "UTC") -> Filters:
    """The filters in ``data`` (a request's GET), the defaults where absent; a date range is read in
    ``time_zone`` (the app's). Raises BadFilters."""
    form = FiltersForm(data={name: data.get(name, "") for name in FIELDS})
    if not form.is_valid():
        raise BadFilters(form)
    values = form.cleaned_data
    model = values["model"] or default_model
    segment = {name: values[name] for name in SEGMENTS}
    zone = zoneinfo.ZoneInfo(time_zone)
    if values["date_from"]:
        start, end = values["date_from"], values["date_to"]
        since, until = _day_start(start, zone), _day_start(end + dt.timedelta(days=1), zone)
        period = {"date_from": start, "date_to": end, "days": (end - start).days + 1}
        shown = {"date_from": start, "date_to": end}
    else:
        days = values["days"] or DEFAULT_DAYS
        until = timezone.now()
        since = _day_start(until.astimezone(zone).date() - dt.timedelta(days=days - 1), zone)
        period, shown = {"days": days}, {"days": days}
    shown_form = FiltersForm(data={**shown, "model": model, **segment})
    shown_form.is_valid()
    return Filters(model=model, since=since, until=until, time_zone=time_zone, form=shown_form, **period, **segment)
