"""Authorization facts for one user, always derived from the database.

``access_for(user)`` returns roles, the seed's permissions and per-app grants. The snapshot is cached
for AUTHZ_CACHE_SECONDS under the user's access version, a number in the database that the signal
handlers in ``signals.py`` bump (``invalidate``) in the very transaction that changes a role, a
permission, a grant or the user. Each call reads that number, so a revocation made anywhere (this
process, another web worker, a shell, a management command) applies to the next request of every
process, whatever the cache: a process's own memory in the embedded default, or Redis.

Per-app grants are django-guardian object permissions on the model that settings name for guardian
(``GUARDIAN_USER_OBJ_PERMS_MODEL``: grants on ``apps_registry.App``): reached through guardian, so
access control does not import the apps it guards.
"""

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db.models import F
from guardian.utils import get_group_obj_perms_model, get_user_obj_perms_model

from accounts.models import AccessVersion

from . import roles

logger = logging.getLogger(__name__)
_BUMP_BATCH = 500  # user ids per statement: a change to a group's permissions reaches every member


@dataclass(frozen=True)
class Access:
    user_id: uuid.UUID
    roles: frozenset[str]
    permissions: frozenset[str]  # the seed's names: apps:read, ...
    app_grants: dict[str, frozenset[str]]  # app id -> guardian codenames

    @property
    def is_admin(self) -> bool:
        return roles.ADMIN in self.roles

    def has_role(self, *wanted: str) -> bool:
        return bool(self.roles.intersection(wanted))

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def can_on_app(self, app_id, codename: str) -> bool:
        return self.is_admin or codename in self.app_grants.get(str(app_id), frozenset())

    @property
    def role_names(self) -> list[str]:
        return sorted(self.roles)

    @property
    def permission_names(self) -> list[str]:
        return sorted(self.permissions)

    @property
    def app_ids(self) -> list[str]:
        """Apps with at least one grant."""
        return sorted(self.app_grants)

    def claims(self) -> dict:
        """The seed's UserClaims, for clients; the server never trusts them back."""
        return {"roles": self.role_names, "permissions": self.permission_names, "appAccess": self.app_ids}


def _cache_key(user_id, version: int) -> str:
    return f"authz:v2:{user_id}:{version}"


def _version(user_id) -> int:
    return AccessVersion.objects.filter(user_id=user_id).values_list("version", flat=True).first() or 0


def _load(user) -> Access:
    group_names = set(user.groups.values_list("name", flat=True))
    user_roles = {name for name in group_names if name in roles.ROLES}
    if user.is_superuser:
        user_roles.add(roles.ADMIN)
    if user.is_superuser:
        permissions = set(roles.PERMISSIONS)
    else:
        codenames = Permission.objects.filter(content_type__app_label="accounts", content_type__model="capability")
        codenames = codenames.filter(user=user) | codenames.filter(group__user=user)
        permissions = {roles.CODENAME_TO_SEED[c] for c in codenames.values_list("codename", flat=True)}
    grants: dict[str, set[str]] = {}
    direct = (
        get_user_obj_perms_model().objects.filter(user=user).values_list("content_object_id", "permission__codename")
    )
    via_groups = (
        get_group_obj_perms_model()
        .objects.filter(group__user=user)
        .values_list("content_object_id", "permission__codename")
    )
    for app_id, codename in [*direct, *via_groups]:
        grants.setdefault(str(app_id), set()).add(codename)
    return Access(
        user_id=user.pk,
        roles=frozenset(user_roles),
        permissions=frozenset(permissions),
        app_grants={app: frozenset(codes) for app, codes in grants.items()},
    )


def access_for(user) -> Access:
    key = _cache_key(user.pk, _version(user.pk))
    try:
        cached = cache.get(key)
    except Exception as error:  # the database is the truth; a cache outage only costs queries
        logger.warning("authz cache unavailable, reading the database: %s", error)
        return _load(user)
    if cached is not None:
        return cached
    access = _load(user)
    try:
        cache.set(key, access, timeout=settings.AUTHZ_CACHE_SECONDS)
    except Exception as error:
        logger.warning("authz cache unavailable, not caching: %s", error)
    return access


def invalidate(user_ids: Iterable) -> None:
    """Leave every cached snapshot of these users behind, in every process, once the caller's
    transaction commits (the change and the new version commit together)."""
    user_ids = sorted(set(user_ids))
    for start in range(0, len(user_ids), _BUMP_BATCH):
        batch = user_ids[start : start + _BUMP_BATCH]
        AccessVersion.objects.bulk_create([AccessVersion(user_id=user_id) for user_id in batch], ignore_conflicts=True)
        AccessVersion.objects.filter(user_id__in=batch).update(version=F("version") + 1)


def granted_model():
    """The model per-app grants are on (``apps_registry.App``)."""
    return get_user_obj_perms_model()._meta.get_field("content_object").related_model
