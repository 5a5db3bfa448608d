"""Forms of the change_app pages. They parse what a person typed; the services
(``links.link_create``, ``costs.costs_import``, ``services.settings_update``) decide, as for the API."""

from django import forms
from django.db import models

from core.errors import ApplicationError

from .models import AttributionSettings, TrackingLink

COSTS_MAX_FILE_BYTES = 32 * 1024 * 1024  # far above costs.MAX_LINES lines of a usual export


def add_service_errors(form: forms.Form, error: ApplicationError, renames: dict[str, str] | None = None) -> None:
    """A service's refusal shown on the form: each field's messages beside that field, the rest on top."""
    if not error.extra:
        form.add_error(None, error.message)
    for name, messages in error.extra.items():
        field = (renames or {}).get(name, name)
        form.add_error(field if field in form.fields else None, messages)


def _https_by_default(field: models.Field, **kwargs) -> forms.Field:
    """A destination typed without a scheme is taken as https (Django 6's default for URL fields)."""
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return field.formfield(**kwargs)


class LinkForm(forms.ModelForm):
    """The link builder: source → campaign → ad set → ad, where a click goes, and sub-parameters as
    ``key=value`` lines. The model's validators are the API's (destinations, sub-parameters)."""

    sub_params_text = forms.CharField(
        label="Sub-parameters",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "sub1=creator_42\nsub2=summer"}),
        help_text="One key=value per line; copied onto every click and impression of the link.",
    )

    class Meta:
        model = TrackingLink
        formfield_callback = _https_by_default
        fields = (
            "name",
            "media_source",
            "campaign",
            "campaign_id",
            "adset",
            "adset_id",
            "ad",
            "ad_id",
            "site_id",
            "ios_url",
            "android_url",
            "web_url",
            "deep_link",
        )
        labels = {
            "media_source": "Media source",
            "adset": "Ad set",
            "adset_id": "Ad set id",
            "site_id": "Site id",
            "ios_url": "App Store URL (iOS)",
            "android_url": "Play Store URL (Android)",
            "web_url": "Web URL",
        }
        help_texts = {
            "name": "How the link is listed here, e.g. Meta spring video.",
            "site_id": "The publisher or placement, when the network has one.",
            "ios_url": "App Store page iPhone visitors go to.",
            "android_url": "Play Store page Android visitors go to.",
            "deep_link": "Opened in the app when it is installed, e.g. myapp://offer/42.",
        }

    def clean_sub_params_text(self) -> dict[str, str]:
        pairs, problems = {}, []
        for number, line in enumerate(self.cleaned_data["sub_params_text"].splitlines(), start=1):
            if not line.strip():
                continue
            key, separator, value = line.partition("=")
            if not separator:
                problems.append(f"Line {number}: write key=value.")
                continue
            pairs[key.strip()] = value.strip()
        if problems:
            raise forms.ValidationError(problems)
        return pairs

    def link_fields(self) -> dict:
        """What ``links.link_create`` takes."""
        fields = {name: self.cleaned_data[name] for name in self.Meta.fields}
        return {**fields, "sub_params": self.cleaned_data["sub_params_text"]}


class CostsUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="A header line, then one line per day and ad: date,source,campaign,currency,cost "
        "(optional: adset, ad, impressions, clicks).",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > COSTS_MAX_FILE_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {COSTS_MAX_FILE_BYTES // (1024 * 1024)} MB; split it."
            )
        return upload


class SettingsForm(forms.ModelForm):
    """Every rule of a settings version; saving makes a new version (``services.settings_update``)."""

    class Meta:
        model = AttributionSettings
        fields = AttributionSettings.RULE_FIELDS
        labels = {
            "click_lookback_hours": "Click lookback (hours)",
            "view_through_hours": "View-through window (hours)",
            "probabilistic_enabled": "Probabilistic matching",
            "probabilistic_window_hours": "Probabilistic window (hours)",
            "user_id_fallback": "User id as a device",
            "reattribution_window_days": "Re-attribution window (days)",
            "reengagement_inactivity_days": "Re-engagement inactivity (days)",
            "reengagement_window_days": "Re-engagement window (days)",
            "default_model": "Default model",
            "time_decay_half_life_days": "Time-decay half-life (days)",
            "fraud_min_ctit_seconds": "Minimum click-to-install time (seconds)",
            "fraud_policy": "Fraud policy",
        }
        help_texts = {
            "click_lookback_hours": "1 to 720: how long before an install a click may win it.",
            "view_through_hours": "1 to 168: how long before an install an impression may win it.",
            "probabilistic_window_hours": "1 to 168, when probabilistic matching is on.",
            "reattribution_window_days": "1 to 365: a second install of a device within it is a reinstall.",
            "reengagement_inactivity_days": "1 to 365: inactivity after which a click brings a re-engagement.",
            "reengagement_window_days": "1 to 365: after a re-engagement or a re-attribution, the device's in-app "
            "revenue goes to the retargeting source for this long, then back to its install's.",
            "probabilistic_enabled": "Match by IP prefix, OS and version when no device id matches (off by default).",
            "user_id_fallback": "An event without a device id counts as the device of its user id, for reinstalls "
            "and re-engagements (off by default: one user on several devices would be one device).",
            "time_decay_half_life_days": "1 to 30.",
            "fraud_min_ctit_seconds": "0 to 3600: installs sooner after their click are flagged as click injection.",
            "fraud_policy": "Flag keeps a flagged install with its click's source, marked as flagged; reject "
            "gives it to the next touch of its path, or to organic.",
        }
