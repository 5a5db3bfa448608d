"""The security log: each event recorded once with every field, never a secret, append-only,
exported to ClickHouse, and bursts raise an alert. Model changes go to django-auditlog."""

import logging

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test import Client

from accounts import tokens
from accounts.audit import SECURITY_ALERTS
from accounts.exports import security_events_export
from accounts.models import SecurityEvent, User
from core import clickhouse
from tests.factories import PASSWORD, AppFactory, UserFactory, bearer, grant

pytestmark = pytest.mark.django_db
A = SecurityEvent.Action
UA = "Mozilla/5.0 (audit test)"
IP = "198.51.100.23"


def post(api, path, body=None, **extra):
    return api.post(path, body or {}, format="json", REMOTE_ADDR=IP, HTTP_USER_AGENT=UA, **extra)


def exactly_one(action, after: int) -> SecurityEvent:
    found = list(SecurityEvent.objects.filter(action=action, id__gt=after))
    assert len(found) == 1, f"{action}: {len(found)} events"
    event = found[0]
    assert event.timestamp is not None and event.timestamp.tzinfo is not None
    return event


def test_every_event_type_is_recorded_exactly_once_with_its_fields(api, settings):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 1
    admin = UserFactory(role="admin")
    user = UserFactory(password=PASSWORD)
    app = AppFactory()
    admin_headers = {**bearer(admin), "REMOTE_ADDR": IP, "HTTP_USER_AGENT": UA}
    setup = SecurityEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def exactly_one_new(action) -> SecurityEvent:
        return exactly_one(action, after=setup)

    pair = post(api, "/api/auth/login", {"email": user.email, "password": PASSWORD}).json()
    login_ok = exactly_one_new(A.LOGIN_OK)
    assert (login_ok.user_id, login_ok.user_email, login_ok.ip, login_ok.user_agent, login_ok.success) == (
        user.pk,
        user.email,
        IP,
        UA,
        True,
    )

    post(api, "/api/auth/login", {"email": user.email, "password": "wrong password!"})
    failed = exactly_one_new(A.LOGIN_FAILED)
    assert (failed.user_email, failed.success, failed.ip) == (user.email, False, IP)

    post(api, "/api/auth/login", {"email": user.email, "password": "wrong password!"})
    assert exactly_one_new(A.LOCKOUT).user_email == user.email

    api.post(f"/api/admin/users/{user.pk}/unlock", **admin_headers)
    assert exactly_one_new(A.UNLOCK).metadata["actor"] == admin.email

    rotated = post(api, "/api/auth/refresh", {"refresh": pair["refresh"]}).json()
    assert exactly_one_new(A.TOKEN_REFRESH).user_id == user.pk
    post(api, "/api/auth/refresh", {"refresh": pair["refresh"]})
    assert exactly_one_new(A.REFRESH_REUSE).success is False

    second = tokens.issue(user)
    post(api, "/api/auth/logout", {"refresh": second["refresh"]}, HTTP_AUTHORIZATION=f"Bearer {second['access']}")
    assert exactly_one_new(A.LOGOUT).user_id == user.pk

    api.get("/api/admin/users", **bearer(user), REMOTE_ADDR=IP)
    denied = exactly_one_new(A.PERMISSION_DENIED)
    assert (denied.user_id, denied.resource, denied.success) == (user.pk, "/api/admin/users", False)

    api.post(f"/api/admin/users/{user.pk}/roles", {"role": "user"}, format="json", **admin_headers)
    granted = exactly_one_new(A.ROLE_GRANTED)
    assert (granted.user_id, granted.resource, granted.metadata["actor"]) == (user.pk, "role:user", admin.email)
    api.delete(f"/api/admin/users/{user.pk}/roles/user", **admin_headers)
    assert exactly_one_new(A.ROLE_REVOKED).resource == "role:user"

    api.put(f"/api/admin/users/{user.pk}/apps/{app.id}", {"permissions": ["view_app"]}, format="json", **admin_headers)
    app_granted = exactly_one_new(A.APP_ACCESS_GRANTED)
    assert app_granted.metadata == {"app_id": str(app.id), "permission": "view_app", "actor": admin.email}
    api.delete(f"/api/admin/users/{user.pk}/apps/{app.id}?permission=view_app", **admin_headers)
    assert exactly_one_new(A.APP_ACCESS_REVOKED).resource == f"app:{app.id}"

    invite = api.post(
        "/api/admin/invitations", {"email": "new@example.com", "role": "user"}, format="json", **admin_headers
    )
    assert exactly_one_new(A.INVITATION_CREATED).metadata["role"] == "user"
    settings.REGISTRATION_POLICY = "invite"
    body = {"email": "new@example.com", "password": PASSWORD, "invitation": invite.json()["invitation"]}
    assert post(api, "/api/auth/register", body).status_code == 202
    assert exactly_one_new(A.REGISTERED).user_email == "new@example.com"

    subject = {"kind": "user", "value": "data-subject"}
    api.post(f"/api/admin/apps/{app.id}/subjects/export", subject, format="json", **admin_headers)
    assert exactly_one_new(A.SUBJECT_EXPORT).resource == f"app:{app.id}"
    api.post(f"/api/admin/apps/{app.id}/subjects/erasure", subject, format="json", **admin_headers)
    assert exactly_one_new(A.SUBJECT_ERASURE).metadata["step"] == "requested"
    opt_out = api.post(f"/api/admin/apps/{app.id}/opt-outs", subject, format="json", **admin_headers).json()
    assert exactly_one_new(A.OPT_OUT_ADDED).metadata["opt_out"] == opt_out["id"]
    api.delete(f"/api/admin/apps/{app.id}/opt-outs/{opt_out['id']}", **admin_headers)
    assert exactly_one_new(A.OPT_OUT_REMOVED).metadata["kind"] == "user"

    recorded = {event.action for event in SecurityEvent.objects.filter(id__gt=setup)}
    assert recorded == set(A.values)

    secrets = [
        PASSWORD,
        "wrong password!",
        pair["refresh"],
        pair["access"],
        rotated["refresh"],
        invite.json()["invitation"],
        "data-subject",
    ]
    dump = str(list(SecurityEvent.objects.values()))
    assert not [secret for secret in secrets if secret in dump]


def test_security_events_cannot_be_changed_or_deleted_in_code():
    event = SecurityEvent.objects.create(action=A.LOGIN_OK, success=True, user_email="x@example.com")
    event.success = False
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        SecurityEvent.objects.filter(pk=event.pk).update(success=False)
    with pytest.raises(PermissionError):
        SecurityEvent.objects.all().delete()


def test_security_events_cannot_be_changed_through_the_api(api):
    admin = UserFactory(role="admin")
    for method in ("post", "put", "patch", "delete"):
        assert getattr(api, method)("/api/admin/security-events", **bearer(admin)).status_code == 405


def test_security_events_are_read_only_in_the_admin():
    admin = User.objects.create_superuser(email="root@example.com", password=PASSWORD)
    event = SecurityEvent.objects.create(action=A.LOGIN_OK, success=True, user_email="x@example.com")
    browser = Client()
    browser.force_login(admin)
    assert browser.get("/admin/accounts/securityevent/").status_code == 200
    assert browser.get("/admin/accounts/securityevent/add/").status_code == 403
    assert browser.post(f"/admin/accounts/securityevent/{event.pk}/change/", {"success": ""}).status_code == 403
    assert browser.post(f"/admin/accounts/securityevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert SecurityEvent.objects.filter(pk=event.pk, success=True).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the database trigger exists on PostgreSQL only")
def test_postgresql_refuses_raw_updates_of_the_security_log():
    event = SecurityEvent.objects.create(action=A.LOGIN_OK, success=True, user_email="x@example.com")
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_securityevent SET success = false WHERE id = %s", [event.pk])


def test_security_events_are_exported_to_clickhouse_once():
    user = UserFactory()
    first = SecurityEvent.objects.create(
        action=A.LOGIN_OK, success=True, user_id=user.pk, user_email=user.email, ip="2001:db8::1"
    )
    SecurityEvent.objects.create(
        action=A.LOGIN_FAILED, success=False, user_email="ghost@example.com", ip="192.0.2.1", metadata={"reason": "x"}
    )
    assert security_events_export() >= 2
    assert security_events_export() == 0
    rows = clickhouse.execute(
        "SELECT action, user_id, user_email, toString(ip), success, metadata FROM security_events FINAL "
        "WHERE id >= {first:UInt64} ORDER BY id",
        {"first": first.pk},
        tag="test.security_events",
    ).rows
    assert rows == [
        ("login_ok", user.pk, user.email, "2001:db8::1", True, "{}"),
        ("login_failed", None, "ghost@example.com", "::ffff:192.0.2.1", False, '{"reason":"x"}'),
    ]


def test_a_burst_of_failed_logins_raises_an_alert(api, settings, caplog):
    settings.SECURITY_ALERT_BURST = 3
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 100
    before = SECURITY_ALERTS.labels("login_failures_ip")._value.get()
    with caplog.at_level(logging.WARNING, logger="unmogrowp.security"):
        for i in range(4):
            post(api, "/api/auth/login", {"email": f"target{i}@example.com", "password": "wrong password!"})
    alerts = [r for r in caplog.records if "security alert" in r.getMessage()]
    assert len(alerts) == 1 and IP in alerts[0].getMessage()
    assert SECURITY_ALERTS.labels("login_failures_ip")._value.get() == before + 1


def test_a_burst_of_denials_raises_an_alert(api, settings, caplog):
    settings.SECURITY_ALERT_BURST = 3
    user = UserFactory(role="user")
    with caplog.at_level(logging.WARNING, logger="unmogrowp.security"):
        for _ in range(3):
            api.get("/api/admin/users", **bearer(user))
    assert any(user.email in r.getMessage() and "denials_user" in r.getMessage() for r in caplog.records)


def test_model_changes_are_in_the_auditlog():
    user = UserFactory(role="user")
    app = AppFactory()
    grant(user, app, "view_app")
    assert LogEntry.objects.get_for_object(app).exists()
    assert LogEntry.objects.filter(content_type__model="appuserobjectpermission").exists()
    user.name = "Renamed"
    user.save()
    change = LogEntry.objects.get_for_object(user).filter(action=LogEntry.Action.UPDATE).latest("timestamp")
    assert "name" in change.changes_dict and "password" not in change.changes_dict
