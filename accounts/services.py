"""Writes for accounts: sign-in (one policy for every door), registration, roles, per-app grants,
invitations, unlock.

Role and grant changes are recorded in the security log by ``signals.py`` (so changes made in the
Django admin are recorded the same way); these functions only make the change.
"""

import datetime as dt
import hashlib
import secrets
from enum import StrEnum

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from accounts import audit, bruteforce, tokens
from accounts.rbac import roles
from core.errors import ApplicationError
from core.metrics import AUTH_FAILURES
from core.net import client_ip

from .models import Invitation, SecurityEvent, User

INVALID_CREDENTIALS = "Invalid email or password."


class SignInDoor(StrEnum):
    """Where a person signs in; recorded with every sign-in event."""

    API = "api"  # POST /api/auth/login: tokens
    ADMIN = "admin"  # /admin/login/: a session, for staff only
    PAGES = "pages"  # /sign-in: a session for the web app's pages


def user_sign_in(*, request, email: str, password: str, door: SignInDoor) -> User:
    """The one sign-in policy, whatever the door; the caller then issues tokens or starts a session.

    An attempt takes its slot in the per-account and per-IP failure counters before the password is
    checked (``bruteforce``), so a locked account cannot sign in anywhere. Every outcome goes to the
    security log with its door, failures to the burst alerts. Unknown email, wrong password, inactive
    account and, at the admin door, an account that is not staff all fail alike and count as failed
    attempts (Django's backend hashes a dummy password for unknown emails, so timing matches too).

    Raises ``bruteforce.LockedOut`` (429), ``bruteforce.GuardUnavailable`` (503) or ApplicationError (401).
    """
    email = email.strip().lower()
    ip = client_ip(request)
    try:
        bruteforce.take_attempt(email=email, ip=ip)
    except bruteforce.LockedOut:
        audit.record(SecurityEvent.Action.LOCKOUT, success=False, email=email, request=request, metadata={"door": door})
        AUTH_FAILURES.labels("locked_out").inc()
        raise
    user = authenticate(request, email=email, password=password)
    if user is None or (door == SignInDoor.ADMIN and not user.is_staff):
        reason = "invalid credentials" if user is None else "not staff"
        audit.login_failed(email=email, request=request, reason=reason, door=door, user=user)
        raise ApplicationError(INVALID_CREDENTIALS, status_code=status.HTTP_401_UNAUTHORIZED)
    bruteforce.succeeded(email=email, ip=ip)
    audit.record(SecurityEvent.Action.LOGIN_OK, success=True, user=user, request=request, metadata={"door": door})
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    return user


def user_login(*, request, email: str, password: str) -> dict:
    """The API's door: tokens for a sign-in that the policy lets through."""
    return tokens.issue(user_sign_in(request=request, email=email, password=password, door=SignInDoor.API))


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_create(*, actor: User, email: str, role: str, days: int = 7) -> str:
    """Returns the invitation token: shown once, stored only hashed."""
    if role not in roles.ROLES:
        raise ApplicationError("Unknown role.", extra={"role": [f"Choose one of {', '.join(roles.ROLES)}."]})
    token = secrets.token_urlsafe(32)
    Invitation.objects.create(
        email=email.strip().lower(),
        role=role,
        token_hash=_hash_token(token),
        created_by=actor,
        expires_at=timezone.now() + dt.timedelta(days=days),
    )
    audit.record(SecurityEvent.Action.INVITATION_CREATED, success=True, email=email, metadata={"role": role})
    return token


@transaction.atomic
def user_register(*, request, email: str, password: str, name: str = "", invitation: str = "") -> None:
    """Creates the account, unless the email already has one. Both end alike for the caller, who gets
    the same answer after the same checks and one password hash each, so registration cannot tell
    which emails have accounts; an existing account is left untouched."""
    policy = settings.REGISTRATION_POLICY
    email = email.strip().lower()
    if policy == "closed":
        raise ApplicationError("Registration is closed. Ask an administrator for an account.", status_code=403)
    role = roles.READONLY
    if policy == "invite":
        invite = (
            Invitation.objects.select_for_update()
            .filter(token_hash=_hash_token(invitation or ""), used_at__isnull=True, expires_at__gt=timezone.now())
            .first()
        )
        if invite is None or invite.email != email:
            raise ApplicationError("This invitation is invalid, used or expired.", status_code=403)
        role = invite.role
        invite.used_at = timezone.now()
        invite.save(update_fields=["used_at"])
    try:
        validate_password(password, User(email=email, name=name))
    except ValidationError as error:
        raise ApplicationError("The password is too weak.", extra={"password": error.messages}) from error
    user = _user_create_unless_taken(email=email, password=password, name=name)
    if user is None:
        make_password(password)  # the hash a new account costs, so that both answers take as long
        audit.record(
            SecurityEvent.Action.REGISTERED,
            success=False,
            email=email,
            metadata={"reason": "email already registered"},
            request=request,
        )
        return
    user.groups.add(Group.objects.get(name=role))
    audit.record(SecurityEvent.Action.REGISTERED, success=True, user=user, request=request, metadata={"role": role})


def _user_create_unless_taken(*, email: str, password: str, name: str) -> User | None:
    if User.objects.filter(email=email).exists():
        return None
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password, name=name)
    except IntegrityError:  # registered by another request since the check
        return None
    except ValidationError as error:  # the model's own uniqueness check saw that request's account
        if "email" in getattr(error, "error_dict", {}):
            return None
        raise


def login_unlock(*, user: User) -> None:
    bruteforce.unlock(email=user.email)
    audit.record(SecurityEvent.Action.UNLOCK, success=True, user=user)
