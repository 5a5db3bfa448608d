"""SDK API keys and request signing secrets.

A key is ``ump_<prefix>_<secret>``: 8 random base62 characters of prefix (the lookup handle, shown
in lists) and 32 random bytes of secret (256 bits). Only SHA-256 of the whole key is stored; the key
itself is returned once, by ``api_key_create``.

``authenticate_api_key`` is what the ingestion endpoint calls. A verified key is remembered in the
process for ``API_KEY_CACHE_SECONDS`` (no cache round trip on the hot path), then in the shared cache.
Revoking marks the key in the shared cache and forgets it in the revoking process at once, so a revoked
key is refused immediately there and within API_KEY_CACHE_SECONDS everywhere else.
"""

import datetime as dt
import hashlib
import hmac
import logging
import secrets
import string
import uuid
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.memo import ProcessMemo

from .models import ApiKey, App

logger = logging.getLogger(__name__)
_ALPHABET = string.ascii_letters + string.digits
_LAST_USED_RESOLUTION_SECONDS = 60
remembered = ProcessMemo()  # key hash -> principal, grouped by key prefix, for API_KEY_CACHE_SECONDS


@dataclass(frozen=True)
class ApiKeyPrincipal:
    """Who an ingestion request is, once its key checked out."""

    app_id: uuid.UUID
    key_id: uuid.UUID
    signing_policy: str
    signing_secret_version: int


def _hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _cache_key(raw_key: str) -> str:
    return f"apikey:v1:{_hash(raw_key)}"


def _split(raw_key: str) -> tuple[str, str] | None:
    parts = raw_key.split("_", 2)  # the secret is URL-safe base64 and may itself contain "_"
    if len(parts) != 3 or parts[0] != "ump" or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class IssuedKey(NamedTuple):
    """A key just made, with the key itself: the only time it is known."""

    key: ApiKey
    raw: str


class RotatedKey(NamedTuple):
    key: ApiKey
    raw: str
    previous: ApiKey


def api_key_create(*, app: App, created_by: User | None, name: str = "") -> IssuedKey:
    """The key row and the key itself; the key is never available again."""
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    raw_key = f"ump_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(app=app, name=name, prefix=prefix, secret_hash=_hash(raw_key), created_by=created_by)
    return IssuedKey(key, raw_key)


def _forget(key: ApiKey) -> None:
    # Cached principals are keyed by the key, which we no longer know: mark the prefix revoked instead,
    # for longer than any cached principal can live.
    remembered.forget_group(key.prefix)
    cache.set(f"apikey:revoked:{key.prefix}", True, timeout=settings.API_KEY_CACHE_SECONDS * 2 + 60)


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    _forget(key)  # at once: if the transaction rolls back, the key is only refused a little early
    return key


@transaction.atomic
def api_key_rotate(*, key: ApiKey, created_by: User | None, overlap: dt.timedelta) -> RotatedKey:
    """A new key now; the old one keeps working for ``overlap`` so SDKs can be redeployed. No overlap
    is a revocation: an expiry alone would leave the old key's cached principals working a while."""
    new_key, raw_key = api_key_create(app=key.app, created_by=created_by, name=key.name)
    if overlap <= dt.timedelta(0):
        api_key_revoke(key=key)
    else:
        key.expires_at = timezone.now() + overlap
        key.save(update_fields=["expires_at"])  # cached principals of the old key never outlive this
    return RotatedKey(new_key, raw_key, key)


def _touch(key: ApiKey, now: dt.datetime) -> None:
    if cache.add(f"apikey:touched:{key.id}", True, timeout=_LAST_USED_RESOLUTION_SECONDS):
        ApiKey.objects.filter(id=key.id).update(last_used_at=now)


def authenticate_api_key(raw_key: str) -> ApiKeyPrincipal | None:
    """The principal for a valid, active key of an active app; None otherwise (never says why)."""
    split = _split(raw_key or "")
    if split is None:
        return None
    prefix, _ = split
    digest = _hash(raw_key)
    principal = remembered.get(digest)
    if principal is not None:
        return principal
    try:
        cached = cache.get_many([_cache_key(raw_key), f"apikey:revoked:{prefix}"])
    except Exception as error:  # the database decides alone while the cache is down
        logger.error("API key cache unavailable, checking the database: %s", error)
        cached = {}
    if cached.get(f"apikey:revoked:{prefix}"):
        return None
    principal = cached.get(_cache_key(raw_key))
    if principal is not None:
        remembered.put(digest, principal, settings.API_KEY_CACHE_SECONDS, group=prefix)
        return principal
    key = ApiKey.objects.select_related("app").filter(prefix=prefix).first()
    now = timezone.now()
    if key is None or not hmac.compare_digest(key.secret_hash, _hash(raw_key)):
        return None
    if not key.is_usable(now) or key.app.status != App.Status.ACTIVE:
        return None
    principal = ApiKeyPrincipal(key.app_id, key.id, key.app.signing_policy, key.app.signing_secret_version)
    ttl = settings.API_KEY_CACHE_SECONDS
    if key.expires_at is not None:
        ttl = max(1, min(ttl, int((key.expires_at - now).total_seconds())))
    remembered.put(digest, principal, ttl, group=prefix)
    try:
        cache.set(_cache_key(raw_key), principal, timeout=ttl)
        _touch(key, now)
    except Exception as error:
        logger.error("API key cache unavailable, not caching: %s", error)
    return principal


def signing_secret(*, app_id: uuid.UUID, version: int) -> str:
    """The app's request-signing secret, derived (never stored) from SDK_SIGNING_KEY."""
    message = f"{app_id}:{version}".encode()
    return hmac.new(settings.SDK_SIGNING_KEY.encode(), message, hashlib.sha256).hexdigest()


def signing_secret_rotate(*, app: App) -> str:
    app.signing_secret_version += 1
    app.save(update_fields=["signing_secret_version"])
    return signing_secret(app_id=app.id, version=app.signing_secret_version)
