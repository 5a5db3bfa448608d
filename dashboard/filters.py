"""Report filters, read from the URL: any view of a report is a link to share, and the same link shows
the same view (a preset period is relative to the moment it is opened, as in AppsFlyer and Adjust).

Only the filters the report selectors take today are here: the period, as the API's ``days`` (so a
page's numbers are the API's), and the attribution model. Platform, country, source, campaign and
date ranges come with the reporting selectors that filter by them (issue #17).
"""

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.utils import timezone

from events.attribution_engine.rules import MODELS

PERIODS = {1: "Last 24 hours", 7: "Last 7 days", 14: "Last 14 days", 30: "Last 30 days", 90: "Last 90 days"}
DEFAULT_DAYS = 7
MODEL_NAMES = {
    "last_touch": "Last touch",
    "first_touch": "First touch",
    "linear": "Linear",
    "time_decay": "Time decay",
    "position_based": "Position based (40/20/40)",
    "data_driven": "Data-driven (Markov)",
}
assert set(MODEL_NAMES) == set(MODELS), "every model of the engine has a name here"


class FiltersForm(forms.Form):
    days = forms.TypedChoiceField(
        label="Period", choices=list(PERIODS.items()), coerce=int, required=False, empty_value=None
    )
    model = forms.ChoiceField(label="Attribution model", choices=list(MODEL_NAMES.items()), required=False)


@dataclass(frozen=True)
class Filters:
    days: int
    model: str
    until: dt.datetime
    form: FiltersForm

    @property
    def since(self) -> dt.datetime:
        return self.until - dt.timedelta(days=self.days)

    @property
    def previous_since(self) -> dt.datetime:
        """The start of the period as long as this one, just before it."""
        return self.since - dt.timedelta(days=self.days)

    @property
    def query(self) -> str:
        """The filters as a query string, for links that keep them."""
        return "?" + urlencode({"days": self.days, "model": self.model})


class BadFilters(Exception):
    def __init__(self, form: FiltersForm):
        super().__init__("bad report filters")
        self.form = form


def report_filters(*, data, default_model: str) -> Filters:
    """The filters in ``data`` (a request's GET), the defaults where absent. Raises BadFilters."""
    form = FiltersForm(data={"days": data.get("days", ""), "model": data.get("model", "")})
    if not form.is_valid():
        raise BadFilters(form)
    days = form.cleaned_data["days"] or DEFAULT_DAYS
    model = form.cleaned_data["model"] or default_model
    shown = FiltersForm(data={"days": days, "model": model})
    shown.is_valid()
    return Filters(days=days, model=model, until=timezone.now(), form=shown)
