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

from core import counters

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


def take_attempt(*, email: str, ip: str | None) -> None:
    """Reserve an attempt or raise LockedOut; call before checking the password."""
    lockout = settings.LOGIN_LOCKOUT_SECONDS
    keys = (_account_key(email), _ip_key(ip))
    limits = (settings.LOGIN_MAX_FAILURES_PER_ACCOUNT, settings.LOGIN_MAX_FAILURES_PER_IP)
    try:
        counts, _ = counters.hit([(key, lockout) for key in keys])
        for key, count, limit in zip(keys, counts, limits, strict=True):
            if count == limit + 1:
                counters.extend(key, lockout)  # the lockout runs from the moment it starts
    except Exception as error:
        logger.error("sign-in guard unavailable (cache): %s", error)
        raise GuardUnavailable() from error
    if any(count > limit for count, limit in zip(counts, limits, strict=True)):
        raise LockedOut(retry_after=lockout)


def succeeded(*, email: str, ip: str | None) -> None:
    """A correct password: the account starts afresh and the IP gets its slot back."""
    try:
        cache.delete(_account_key(email))
        cache.decr(_ip_key(ip))
    except ValueError:
        pass  # the IP counter expired meanwhile: nothing to give back
    except Exception as error:
        logger.error("sign-in guard could not reset counters (cache): %s", error)


def unlock(*, email: str | None = None, ip: str | None = None) -> None:
    if email:
        cache.delete(_account_key(email))
    if ip:
        cache.delete(_ip_key(ip))
