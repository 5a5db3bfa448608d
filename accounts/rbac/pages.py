"""Authorization of the web app's pages: the API's rules (``RoleRequired`` + ``app_access``), answered
as pages.

Signed out: the sign-in page, coming back afterwards. A role or seed permission missing: the 403
page, before any app is looked at (as the API's permission classes run before its views). An app the
user holds no grant on, or that does not exist: the 404 page, the same bytes either way. Grants on
the app without the page's permission (``view_app`` but no ``view_analytics``, say): the 403 page,
which names the app when the user may see it. The app itself is found by ``app_access`` with the
page's permission, as the API finds it. Every refusal is a security event, as in the API.
"""

import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from rest_framework.exceptions import NotFound

from accounts import audit

from . import roles
from .authz import Access, access_for
from .selectors import app_access, apps_for_user

APP_PERMISSION_NAMES = {
    "view_app": "see this app",
    "change_app": "change this app",
    "view_analytics": "read this app's analytics",
    "manage_keys": "manage this app's keys",
}


@dataclass(frozen=True)
class PageRule:
    """Who may open a page: one of ``roles`` holding the seed ``permission`` (None: the role is enough,
    as the seed's /api/apps/{id}/* asks), and ``app_permission`` on the app."""

    roles: tuple[str, ...]
    permission: str | None
    app_permission: str

    def role_allows(self, access: Access) -> bool:
        return access.has_role(*self.roles) and (self.permission is None or access.can(self.permission))

    def allows(self, access: Access, app_id) -> bool:
        return self.role_allows(access) and access.can_on_app(app_id, self.app_permission)

    @property
    def role_needed(self) -> str:
        needed = f"the role {' or '.join(self.roles)}"
        return needed + (f" with the permission {self.permission}" if self.permission else "")


READ = PageRule((roles.ADMIN, roles.USER, roles.READONLY), "apps:read", "view_app")
CHANGE = PageRule((roles.ADMIN, roles.USER), None, "change_app")
DASHBOARD = PageRule((roles.ADMIN, roles.USER), "dashboard:read", "view_analytics")
ANALYTICS = PageRule((roles.ADMIN, roles.USER), "analytics:read", "view_analytics")
RULES = {"read": READ, "change": CHANGE, "dashboard": DASHBOARD, "analytics": ANALYTICS}


@dataclass(frozen=True)
class AppPage:
    """What every page of one app knows: the app, the apps for the switcher, and which of the app's
    pages the user may open (``can.dashboard``...), so the navigation offers only those."""

    app: Model
    apps: list
    can: dict[str, bool]


def forbidden(request: HttpRequest, *, rule: PageRule, page: AppPage | None = None) -> HttpResponse:
    access = access_for(request.user)
    context = {
        "page": page,
        "rule": rule,
        "your_roles": access.role_names,
        "app_permission": APP_PERMISSION_NAMES[rule.app_permission],
        "missing_role": not rule.role_allows(access),
    }
    return render(request, "pages/403.html", context, status=403)


def not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/404.html", status=404)


def _grants_on(access: Access, app_id: str) -> frozenset[str]:
    """The user's grants on an app: none means the app is not theirs to see. (An admin sees every app,
    so ``app_access`` refuses an admin only an app that does not exist.)"""
    try:
        key = str(uuid.UUID(app_id))
    except ValueError:
        return frozenset()
    return access.app_grants.get(key, frozenset())


def _app_page(request: HttpRequest, access: Access, app: Model) -> AppPage:
    return AppPage(
        app=app,
        apps=list(apps_for_user(user=request.user).filter(status="active").only("id", "name")),
        can={name: rule.allows(access, app.id) for name, rule in RULES.items()},
    )


def app_page(rule: PageRule) -> Callable:
    """A page of one app: the view gets ``page`` (an AppPage) instead of ``app_id``."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, app_id: str, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            access = access_for(request.user)
            if not rule.role_allows(access):
                audit.permission_denied(request=request, resource=request.path, reason=f"needs {rule.role_needed}")
                return forbidden(request, rule=rule)
            try:
                app = app_access(request=request, app_id=app_id, permission=rule.app_permission)
            except NotFound:
                grants = _grants_on(access, app_id)
                if not grants:
                    return not_found(request)
                seen = app_access(request=request, app_id=app_id) if "view_app" in grants else None
                return forbidden(request, rule=rule, page=seen and _app_page(request, access, seen))
            page = _app_page(request, access, app)
            with timezone.override(zoneinfo.ZoneInfo(app.timezone)):  # every time shown in the app's zone
                return view(request, page, *args, **kwargs)

        return wrapper

    return decorate
