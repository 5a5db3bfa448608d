"""Writes for apps, their platforms and their attribution settings."""

from dataclasses import dataclass

from django.db import transaction

from accounts.models import User
from core.errors import ApplicationError

from .models import App, AppPlatform, AttributionSettings


def full_clean_or_error(instance) -> None:
    """Model validation, with its field messages as an ApplicationError (400)."""
    from django.core.exceptions import ValidationError

    try:
        instance.full_clean()
    except ValidationError as error:
        raise ApplicationError("Invalid input.", extra=error.message_dict) from error


def _set_platforms(app: App, platforms: list[dict]) -> None:
    seen = [p["platform"] for p in platforms]
    if len(seen) != len(set(seen)):
        raise ApplicationError("Invalid input.", extra={"platforms": ["Each platform may appear once."]})
    app.platforms.exclude(platform__in=seen).delete()
    for values in platforms:
        platform, _ = AppPlatform.objects.get_or_create(app=app, platform=values["platform"])
        for field in ("bundle_id", "store_id", "store_url", "web_domains"):
            if field in values:
                setattr(platform, field, values[field])
        full_clean_or_error(platform)
        platform.save()


@transaction.atomic
def app_create(
    *,
    owner: User,
    name: str,
    timezone: str = "UTC",
    currency: str = "USD",
    signing_policy: str = App.SigningPolicy.OFF,
    platforms: list[dict] | None = None,
) -> App:
    app = App(owner=owner, name=name.strip(), timezone=timezone, currency=currency, signing_policy=signing_policy)
    full_clean_or_error(app)
    app.save()
    _set_platforms(app, platforms or [])
    AttributionSettings.objects.create(app=app, version=1, changed_by=owner)
    return app


@transaction.atomic
def app_update(*, app: App, platforms: list[dict] | None = None, **fields) -> App:
    for name, value in fields.items():
        setattr(app, name, value.strip() if name == "name" else value)
    full_clean_or_error(app)
    app.save()
    if platforms is not None:
        _set_platforms(app, platforms)
    return app


def settings_current(*, app: App) -> AttributionSettings:
    return app.attribution_settings.order_by("-version").first() or AttributionSettings(app=app, version=0)


@transaction.atomic
def settings_update(*, app: App, changed_by: User, **changes) -> AttributionSettings:
    """A new settings version with ``changes`` applied; the previous versions stay as they were."""
    App.objects.select_for_update().filter(pk=app.pk).first()  # one writer at a time per app
    current = settings_current(app=app)
    unknown = set(changes) - set(AttributionSettings.RULE_FIELDS)
    if unknown:
        raise ApplicationError("Invalid input.", extra={name: ["Unknown setting."] for name in sorted(unknown)})
    new = AttributionSettings(
        app=app, version=current.version + 1, changed_by=changed_by, **{**current.rules(), **changes}
    )
    full_clean_or_error(new)
    if new.rules() == current.rules():
        return current
    new.save()
    return new


@dataclass(frozen=True)
class SettingsChange:
    """A settings version and what it changed from the version before: rule -> {"old", "new"}."""

    settings: AttributionSettings
    changes: dict[str, dict]


def settings_history(*, app: App) -> list[SettingsChange]:
    """Every version, newest first, with what changed from the version before."""
    versions = list(app.attribution_settings.select_related("changed_by").order_by("version"))
    history, previous = [], None
    for version in versions:
        rules = version.rules()
        changes = (
            {name: {"old": previous[name], "new": value} for name, value in rules.items() if previous[name] != value}
            if previous is not None
            else {}
        )
        history.append(SettingsChange(settings=version, changes=changes))
        previous = rules
    return list(reversed(history))


class UnknownApps(ApplicationError):
    """Some of the app ids asked for name no app."""


def apps_chosen(ids: list[str] | None):
    """The apps of ``ids``, or every active app when none are given (the jobs' ``--app`` option)."""
    if not ids:
        return App.objects.filter(status=App.Status.ACTIVE)
    apps = App.objects.filter(pk__in=ids)
    if apps.count() != len(set(ids)):
        raise UnknownApps("Unknown app id among --app.")
    return apps
