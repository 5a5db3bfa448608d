"""Sign-in brute-force protection: failure counters per account and per IP, atomic in the cache
(Redis in production).

Every attempt takes a slot *before* the password is checked (atomic increment), so N concurrent
guesses cannot all slip under the limit: exactly LOGIN_MAX_FAILURES_PER_ACCOUNT wrong passwords are
checked, then the account is locked for LOGIN_LOCKOUT_SECONDS. A success gives its slots back.
Accounts are keyed by the submitted email, existing or not, so a lockout reveals nothing.

When the cache is unreachable, sign-in fails closed (503): guessing must never become unlimited.
"""

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import APIException

logger = logging.getLogger(__name__)


class LockedOut(APIException):
    status_code = 429
    default_detail = "Too many failed sign-in attempts. Try again later."
    default_code = "locked_out"

    def __init__(self, retry_after: int):
        super().__init__()
        self.wait = retry_after


class GuardUnavailable(APIException):
    status_code = 503
    default_detail = "Sign-in is temporarily unavailable. Try again shortly."
    default_code = "guard_unavailable"


def _account_key(email: str) -> str:
    return "login:acct:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _ip_key(ip: str | None) -> str:
    return f"login:ip:{ip or 'unknown'}"


def _take(key: str, limit: int) -> bool:
    """Take one attempt slot; False when the limit was already used up (locked)."""
    cache.add(key, 0, timeout=settings.LOGIN_LOCKOUT_SECONDS)
    count = cache.incr(key)
    if count == limit + 1:
        cache.touch(key, settings.LOGIN_LOCKOUT_SECONDS)  # the lockout runs from the moment it starts
    return count <= limit


def take_attempt(*, email: str, ip: str | None) -> None:
    """Reserve an attempt or raise LockedOut; call before checking the password."""
    try:
        account_ok = _take(_account_key(email), settings.LOGIN_MAX_FAILURES_PER_ACCOUNT)
        ip_ok = _take(_ip_key(ip), settings.LOGIN_MAX_FAILURES_PER_IP)
    except LockedOut:
        raise
    except Exception as error:
        logger.error("sign-in guard unavailable (cache): %s", error)
        raise GuardUnavailable() from error
    if not (account_ok and ip_ok):
        raise LockedOut(retry_after=settings.LOGIN_LOCKOUT_SECONDS)


def succeeded(*, email: str, ip: str | None) -> None:
    """A correct password: the account starts afresh and the IP gets its slot back."""
    try:
        cache.delete(_account_key(email))
        cache.decr(_ip_key(ip))
    except ValueError:
        pass  # the IP counter expired meanwhile: nothing to give back
    except Exception as error:
        logger.error("sign-in guard could not reset counters (cache): %s", error)


def is_locked(*, email: str) -> bool:
    return (cache.get(_account_key(email)) or 0) > settings.LOGIN_MAX_FAILURES_PER_ACCOUNT


def unlock(*, email: str | None = None, ip: str | None = None) -> None:
    if email:
        cache.delete(_account_key(email))
    if ip:
        cache.delete(_ip_key(ip))
