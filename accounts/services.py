"""Writes for accounts: sign-in, registration, roles, per-app grants, invitations, unlock.

Role and grant changes are recorded in the security log by ``signals.py`` (so changes made in the
Django admin are recorded the same way); these functions only make the change.
"""

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework import status

from accounts import audit, bruteforce, tokens
from accounts.rbac import roles
from core.errors import ApplicationError
from core.net import client_ip

from .models import Invitation, SecurityEvent, User

INVALID_CREDENTIALS = "Invalid email or password."


def user_login(*, request, email: str, password: str) -> dict:
    """Tokens for valid credentials. Unknown email, wrong password and inactive account answer
    identically (Django's backend hashes a dummy password for unknown emails, so timing matches)."""
    email = email.strip().lower()
    ip = client_ip(request)
    try:
        bruteforce.take_attempt(email=email, ip=ip)
    except bruteforce.LockedOut:
        audit.record(SecurityEvent.Action.LOCKOUT, success=False, email=email, request=request)
        audit.AUTH_FAILURES.labels("locked_out").inc()
        raise
    user = authenticate(request, email=email, password=password)
    if user is None:
        audit.login_failed(email=email, request=request, reason="invalid credentials")
        raise ApplicationError(INVALID_CREDENTIALS, status_code=status.HTTP_401_UNAUTHORIZED)
    bruteforce.succeeded(email=email, ip=ip)
    audit.record(SecurityEvent.Action.LOGIN_OK, success=True, user=user, request=request)
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    return tokens.issue(user)


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
def user_register(*, request, email: str, password: str, name: str = "", invitation: str = "") -> User:
    policy = settings.REGISTRATION_POLICY
    email = email.strip().lower()
    if policy == "closed":
        raise ApplicationError("Registration is closed. Ask an administrator for an account.", status_code=403)
    role = roles.READONLY
    invite = None
    if policy == "invite":
        invite = (
            Invitation.objects.select_for_update()
            .filter(token_hash=_hash_token(invitation or ""), used_at__isnull=True, expires_at__gt=timezone.now())
            .first()
        )
        if invite is None or invite.email != email:
            raise ApplicationError("This invitation is invalid, used or expired.", status_code=403)
        role = invite.role
    if User.objects.filter(email=email).exists():
        # Same answer as a fresh sign-up would get wrong: do not confirm which emails have accounts.
        raise ApplicationError("This email cannot be registered.", extra={"email": ["Use another address."]})
    try:
        validate_password(password, User(email=email, name=name))
    except ValidationError as error:
        raise ApplicationError("The password is too weak.", extra={"password": error.messages}) from error
    user = User.objects.create_user(email=email, password=password, name=name)
    user.groups.add(Group.objects.get(name=role))
    if invite is not None:
        invite.used_at = timezone.now()
        invite.save(update_fields=["used_at"])
    audit.record(SecurityEvent.Action.REGISTERED, success=True, user=user, request=request, metadata={"role": role})
    return user


def login_unlock(*, user: User) -> None:
    bruteforce.unlock(email=user.email)
    audit.record(SecurityEvent.Action.UNLOCK, success=True, user=user)
