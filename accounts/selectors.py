"""Reads of accounts."""

from dataclasses import dataclass

from .models import User
from .rbac.authz import Access, access_for


@dataclass(frozen=True)
class Profile:
    """A user as clients see themselves: identity and the seed's claims (roles, permissions, apps)."""

    user: User
    access: Access


def user_profile(*, user: User) -> Profile:
    return Profile(user=user, access=access_for(user))
