"""JWT issue, rotation and revocation (simplejwt underneath).

Each login starts a token family. Refreshing rotates: the used refresh token is blacklisted and a new
one of the same family issued. Presenting a refresh token that was already rotated means it was
stolen or replayed: the whole family is revoked (every refresh and access token of that login).
"""

import uuid

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import audit
from accounts.rbac import authz
from core.metrics import AUTH_FAILURES

from .models import SecurityEvent, TokenFamily, User

FAMILY_CLAIM = "family"
INVALID_REFRESH = "Refresh token is invalid or expired."


def _refresh_for(user: User, family: TokenFamily) -> RefreshToken:
    refresh = RefreshToken.for_user(user)
    refresh[FAMILY_CLAIM] = str(family.id)
    refresh["email"] = user.email
    for claim, value in authz.access_for(user).claims().items():
        refresh[claim] = value
    return refresh


def _pair(refresh: RefreshToken) -> dict:
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def issue(user: User) -> dict:
    """Tokens for a fresh login: a new family."""
    return _pair(_refresh_for(user, TokenFamily.objects.create(user=user)))


def revoke_family(family_id, reason: str) -> None:
    """Every token of the family is refused from now on (checked on refresh and on every request)."""
    TokenFamily.objects.filter(id=family_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=reason
    )


def family_is_revoked(family_id) -> bool:
    return TokenFamily.objects.filter(id=family_id, revoked_at__isnull=False).exists()


def _parse(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw, verify=True)
    except TokenError as error:
        if "blacklisted" in str(error).lower():
            raise _Reused(raw) from error
        raise AuthenticationFailed(INVALID_REFRESH) from error


class _Reused(Exception):
    def __init__(self, raw: str):
        self.raw = raw


def _family_of(raw: str) -> uuid.UUID | None:
    """The family of a blacklisted token. Decoding still checks signature, audience and issuer;
    only the blacklist and expiry checks are skipped."""
    try:
        token = RefreshToken(raw, verify=False)
    except TokenError:
        return None
    return uuid.UUID(token[FAMILY_CLAIM]) if FAMILY_CLAIM in token else None


def rotate(raw: str, request) -> dict:
    try:
        refresh = _parse(raw)
    except _Reused:
        family_id = _family_of(raw)
        if family_id is not None:
            revoke_family(family_id, "refresh token reuse")
        user = User.objects.filter(token_families__id=family_id).first() if family_id else None
        audit.record(
            SecurityEvent.Action.REFRESH_REUSE,
            success=False,
            user=user,
            resource=f"token-family:{family_id}",
            request=request,
        )
        AUTH_FAILURES.labels("refresh_reuse").inc()
        raise AuthenticationFailed(INVALID_REFRESH) from None
    family_id = refresh.get(FAMILY_CLAIM)
    user = User.objects.filter(pk=refresh.get("userId"), is_active=True).first()
    if family_id is None or user is None or family_is_revoked(family_id):
        raise AuthenticationFailed(INVALID_REFRESH)
    with transaction.atomic():
        refresh.blacklist()
        family = TokenFamily.objects.get(id=family_id)
        pair = _pair(_refresh_for(user, family))
    audit.record(
        SecurityEvent.Action.TOKEN_REFRESH,
        success=True,
        user=user,
        resource=f"token-family:{family_id}",
        request=request,
    )
    return pair


def logout(raw: str, request) -> None:
    """Ends one of the caller's own logins. Another user's refresh token answers as an invalid one
    would and revokes nothing: a token that leaked must not let someone end its owner's session, nor
    confirm that it is still valid."""
    try:
        refresh = RefreshToken(raw, verify=True)
    except TokenError as error:
        raise AuthenticationFailed(INVALID_REFRESH) from error
    family_id = refresh.get(FAMILY_CLAIM)
    caller = request.user
    if refresh.get("userId") != str(caller.pk):
        audit.record(
            SecurityEvent.Action.LOGOUT,
            success=False,
            user=caller,
            resource=f"token-family:{family_id}",
            metadata={"reason": "another user's refresh token"},
            request=request,
        )
        AUTH_FAILURES.labels("foreign_logout").inc()
        raise AuthenticationFailed(INVALID_REFRESH)
    revoke_family(family_id, "logout")
    audit.record(
        SecurityEvent.Action.LOGOUT, success=True, user=caller, resource=f"token-family:{family_id}", request=request
    )
