"""Granting and revoking roles and per-app grants. The changes are recorded in the security log and
drop cached authorization snapshots by ``signals.py``, wherever they are made (here, Django admin,
the shell)."""

from django.contrib.auth.models import Group
from django.db import models, transaction
from guardian.shortcuts import assign_perm, remove_perm

from accounts.models import User
from core.errors import ApplicationError

from . import roles


def _role_group(role: str) -> Group:
    if role not in roles.ROLES:
        raise ApplicationError("Unknown role.", extra={"role": [f"Choose one of {', '.join(roles.ROLES)}."]})
    return Group.objects.get(name=role)


def role_grant(*, user: User, role: str) -> None:
    user.groups.add(_role_group(role))


def role_revoke(*, user: User, role: str) -> None:
    user.groups.remove(_role_group(role))


def _check_app_permissions(permissions: list[str]) -> None:
    unknown = sorted(set(permissions) - set(roles.APP_PERMISSIONS))
    if unknown or not permissions:
        raise ApplicationError(
            "Unknown or missing app permissions.",
            extra={"permissions": [f"Choose from {', '.join(roles.APP_PERMISSIONS)}."]},
        )


@transaction.atomic
def app_access_grant(*, user: User, app: models.Model, permissions: list[str]) -> None:
    _check_app_permissions(permissions)
    for codename in permissions:
        assign_perm(codename, user, app)


@transaction.atomic
def app_access_revoke(*, user: User, app: models.Model, permissions: list[str] | None = None) -> None:
    codenames = permissions or list(roles.APP_PERMISSIONS)
    _check_app_permissions(codenames)
    for codename in codenames:
        remove_perm(codename, user, app)
