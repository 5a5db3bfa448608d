"""An admin grants access in the Django admin (django-guardian's screens); it applies at once."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import SecurityEvent, User
from events.attribution_engine import services
from tests.factories import PASSWORD, AppFactory, UserFactory, bearer

pytestmark = pytest.mark.django_db


def test_admin_grants_app_access_in_the_admin_and_it_applies_at_once(api):
    User.objects.create_superuser(email="root@example.com", password=PASSWORD)
    marketer = UserFactory(role="user")
    app, other_app = AppFactory(), AppFactory()
    headers = bearer(marketer)
    assert api.get(f"/api/analytics/events?app_id={app.id}", **headers).status_code == 404

    browser = Client()
    signed_in = browser.post("/admin/login/?next=/admin/", {"username": "root@example.com", "password": PASSWORD})
    assert signed_in.status_code == 302 and signed_in.url == "/admin/"
    permissions_page = reverse("admin:apps_registry_app_permissions", args=[app.pk])
    assert b"Object permissions" in browser.get(permissions_page).content
    chosen = browser.post(permissions_page, {"user": marketer.email, "submit_manage_user": "Manage user"})
    assert chosen.status_code == 302
    saved = browser.post(chosen.url, {"permissions": ["view_app", "view_analytics"]})
    assert saved.status_code == 302

    assert api.get(f"/api/analytics/events?app_id={app.id}", **headers).status_code == 200
    assert api.get(f"/api/dashboard/stats?app_id={app.id}", **headers).status_code == 200
    assert api.get(f"/api/analytics/events?app_id={other_app.id}", **headers).status_code == 404
    assert api.get(f"/api/apps/{other_app.id}", **headers).status_code == 404

    grants = SecurityEvent.objects.filter(action=SecurityEvent.Action.APP_ACCESS_GRANTED, user_id=marketer.pk)
    assert sorted(e.metadata["permission"] for e in grants) == ["view_analytics", "view_app"]
    assert {e.metadata["actor"] for e in grants} == {"root@example.com"}


def test_admin_grants_a_role_in_the_admin(api):
    User.objects.create_superuser(email="root@example.com", password=PASSWORD)
    person = UserFactory(role="readonly")
    assert (
        api.get("/api/dashboard/stats?app_id=00000000-0000-4000-8000-000000000000", **bearer(person)).status_code == 403
    )
    browser = Client()
    browser.force_login(User.objects.get(email="root@example.com"))
    page = browser.get(reverse("admin:accounts_user_change", args=[person.pk]))
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in ("email", "name", "is_active", "is_staff", "is_superuser")}
    data.update(
        {
            "groups": [g.pk for g in person.groups.all()] + [form.fields["groups"].queryset.get(name="user").pk],
            "user_permissions": [],
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        }
    )
    data = {k: v for k, v in data.items() if v not in (False, None)}
    response = browser.post(reverse("admin:accounts_user_change", args=[person.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assert api.get("/api/auth/me", **bearer(person)).json()["roles"] == ["readonly", "user"]
    assert (
        SecurityEvent.objects.filter(
            action=SecurityEvent.Action.ROLE_GRANTED, user_id=person.pk, resource="role:user"
        ).count()
        == 1
    )


def test_admins_see_attribution_runs_read_only():
    admin_user = UserFactory(role="admin", is_staff=True, is_superuser=True)
    app = AppFactory()
    now = dt.datetime.now(dt.UTC)
    run = services.attribution_run(app=app, since=now - dt.timedelta(hours=1), until=now)
    browser = Client()
    browser.force_login(admin_user)
    listing = browser.get(reverse("admin:events_attributionrun_changelist"))
    assert listing.status_code == 200 and app.name in listing.content.decode()
    assert browser.get(reverse("admin:events_attributionrun_add")).status_code == 403
    assert (
        browser.post(reverse("admin:events_attributionrun_delete", args=[run.pk]), {"post": "yes"}).status_code == 403
    )
