"""One sign-in policy for every door: the API's login and Django admin's share the lockout, the
security log and the burst alerts; an admin session calls the JSON API under the same roles and
with CSRF enforced on unsafe methods."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import SecurityEvent, User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
A = SecurityEvent.Action
IP = "198.51.100.40"
LOCKED = b"Too many failed sign-ins for this account or address"


def api_login(email: str, password: str):
    return APIClient().post("/api/auth/login", {"email": email, "password": password}, format="json", REMOTE_ADDR=IP)


def admin_login(browser: Client, email: str, password: str):
    return browser.post("/admin/login/?next=/admin/", {"username": email, "password": password}, REMOTE_ADDR=IP)


def signed_in(browser: Client) -> bool:
    return "_auth_user_id" in browser.session


@pytest.fixture
def staff():
    return User.objects.create_superuser(email="root@example.com", password=PASSWORD)


def test_an_account_locked_at_the_api_cannot_sign_in_to_the_admin(settings, staff):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    assert [api_login(staff.email, "wrong password!").status_code for _ in range(6)] == [401] * 5 + [429]
    browser = Client()
    refused = admin_login(browser, staff.email, PASSWORD)
    assert refused.status_code == 200 and LOCKED in refused.content
    assert b"Try again in 15 minutes." in refused.content
    assert not signed_in(browser)
    assert browser.get("/admin/").status_code == 302  # to the login page
    lockout = SecurityEvent.objects.filter(action=A.LOCKOUT).first()
    assert (lockout.user_email, lockout.metadata["door"]) == (staff.email, "admin")


def test_wrong_passwords_at_the_admin_lock_the_account_at_every_door(settings, staff):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    browser = Client()
    for _ in range(5):
        wrong = admin_login(browser, staff.email, "wrong password!")
        assert wrong.status_code == 200 and b"Please enter the correct email" in wrong.content
    assert LOCKED in admin_login(browser, staff.email, PASSWORD).content
    assert not signed_in(browser)
    assert api_login(staff.email, PASSWORD).status_code == 429


@pytest.mark.django_db(transaction=True)
def test_concurrent_wrong_passwords_at_the_admin_lock_exactly_at_the_limit(settings):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    staff = User.objects.create_superuser(email="root@example.com", password=PASSWORD)

    def attempt(_):
        try:
            return LOCKED in admin_login(Client(), staff.email, "wrong password!").content
        finally:
            connection.close()  # this worker thread's own connection

    with ThreadPoolExecutor(max_workers=8) as pool:
        locked = list(pool.map(attempt, range(16)))
    assert locked.count(False) == 5 and locked.count(True) == 11
    assert SecurityEvent.objects.filter(action=A.LOGIN_FAILED, metadata__door="admin").count() == 5


def test_every_sign_in_is_in_the_security_log_with_its_door(staff):
    browser = Client()
    admin_login(browser, staff.email, "wrong password!")
    assert admin_login(browser, staff.email, PASSWORD).status_code == 302 and signed_in(browser)
    api_login(staff.email, "wrong password!")
    assert api_login(staff.email, PASSWORD).status_code == 200
    events = [
        (e.action, e.success, e.user_email, e.ip, e.metadata["door"])
        for e in SecurityEvent.objects.filter(action__in=[A.LOGIN_OK, A.LOGIN_FAILED]).order_by("id")
    ]
    assert events == [
        (A.LOGIN_FAILED, False, staff.email, IP, "admin"),
        (A.LOGIN_OK, True, staff.email, IP, "admin"),
        (A.LOGIN_FAILED, False, staff.email, IP, "api"),
        (A.LOGIN_OK, True, staff.email, IP, "api"),
    ]


def test_an_account_that_is_not_staff_gets_no_admin_session_and_a_failed_attempt(settings):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 1
    marketer = UserFactory(role="user", password=PASSWORD)
    browser = Client()
    refused = admin_login(browser, marketer.email, PASSWORD)
    assert b"Please enter the correct email" in refused.content and not signed_in(browser)
    failed = SecurityEvent.objects.get(action=A.LOGIN_FAILED)
    assert failed.metadata == {"reason": "not staff", "door": "admin"}
    assert api_login(marketer.email, PASSWORD).status_code == 429  # it counted as a failed sign-in


def staff_session(email: str) -> Client:
    """Signed in through the admin's form, CSRF enforced as in a browser."""
    browser = Client(enforce_csrf_checks=True)
    browser.get("/admin/login/")
    form = {"username": email, "password": PASSWORD, "csrfmiddlewaretoken": browser.cookies["csrftoken"].value}
    assert browser.post("/admin/login/?next=/admin/", form, REMOTE_ADDR=IP).status_code == 302
    return browser


def test_an_admin_session_calls_the_json_api_under_the_same_roles():
    staff_marketer = UserFactory(role="user", password=PASSWORD, is_staff=True)
    session = staff_session(staff_marketer.email)
    assert session.get("/api/auth/me").json()["email"] == staff_marketer.email
    assert session.get("/api/admin/users").status_code == 403
    denied = SecurityEvent.objects.get(action=A.PERMISSION_DENIED)
    assert (denied.user_id, denied.resource) == (staff_marketer.pk, "/api/admin/users")

    admin = UserFactory(role="admin", password=PASSWORD, is_staff=True)
    assert staff_session(admin.email).get("/api/admin/users").status_code == 200


def test_an_admin_session_needs_the_csrf_token_for_unsafe_api_methods():
    admin = UserFactory(role="admin", password=PASSWORD, is_staff=True)
    session = staff_session(admin.email)
    invitation = {"email": "new@example.com", "role": "user"}
    refused = session.post("/api/admin/invitations", invitation, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]
    token = session.cookies["csrftoken"].value
    accepted = session.post(
        "/api/admin/invitations", invitation, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert accepted.status_code == 201
