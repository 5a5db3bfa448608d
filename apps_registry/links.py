"""Tracking links: creation with an unguessable code, the URLs handed to networks, and the cached
lookup the click/impression endpoints use."""

import secrets
import string

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction

from accounts.models import User
from core.errors import ApplicationError
from core.memo import ProcessMemo

from .models import App, TrackingLink
from .services import full_clean_or_error

_ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 10  # 62^10 ≈ 8e17: not guessable by enumeration
LINK_FIELDS = (
    "name",
    "media_source",
    "campaign",
    "campaign_id",
    "adset",
    "adset_id",
    "ad",
    "ad_id",
    "site_id",
    "sub_params",
    "ios_url",
    "android_url",
    "web_url",
    "deep_link",
    "status",
)

remembered = ProcessMemo()  # code -> link, for LINK_CACHE_SECONDS


def _cache_key(code: str) -> str:
    return f"link:v1:{code}"


def _forget(link: TrackingLink) -> None:
    def forget():
        remembered.forget(link.code)
        cache.delete(_cache_key(link.code))

    forget()
    # Again after commit: a click between the change and the commit may have cached the old link.
    transaction.on_commit(forget)


def link_create(*, app: App, created_by: User, **fields) -> TrackingLink:
    if not any(fields.get(name) for name in ("ios_url", "android_url", "web_url")):
        raise ApplicationError("Invalid input.", extra={"web_url": ["Give at least one destination URL."]})
    for _ in range(5):
        link = TrackingLink(
            app=app,
            created_by=created_by,
            code="".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH)),
            **fields,
        )
        full_clean_or_error(link)
        try:
            with transaction.atomic():
                link.save()
            return link
        except IntegrityError:
            continue  # code collision: astronomically rare, draw again
    raise ApplicationError("Could not allocate a link code; try again.", status_code=503)


def link_update(*, link: TrackingLink, **fields) -> TrackingLink:
    for name, value in fields.items():
        setattr(link, name, value)
    full_clean_or_error(link)
    link.save()
    _forget(link)
    return link


def link_by_code(code: str) -> TrackingLink | None:
    """An active link by its code: the click endpoint's only lookup. Remembered in this process for
    LINK_CACHE_SECONDS (no cache round trip, no unpickling on most clicks), then in the shared cache."""
    if len(code) != CODE_LENGTH:
        return None
    link = remembered.get(code)
    if link is not None:
        return link
    if not (code.isascii() and code.isalnum()):
        return None  # never drawn from the code alphabet; nor a key the shared cache may refuse
    key = _cache_key(code)
    link = cache.get(key)
    if link is None:
        link = TrackingLink.objects.filter(code=code, status=TrackingLink.Status.ACTIVE).first()
        if link is None:
            return None
        cache.set(key, link, timeout=300)
    remembered.put(code, link, settings.LINK_CACHE_SECONDS)  # only links that exist
    return link
