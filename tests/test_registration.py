"""Registration policies (closed by default, invite-only, open), the password policy, and an answer
that does not tell which emails have accounts."""

import statistics
import time

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import PASSWORD, UserFactory, bearer

pytestmark = pytest.mark.django_db
REGISTER = "/api/auth/register"


def register(api, **body):
    return api.post(REGISTER, {"email": "new@example.com", "password": PASSWORD, **body}, format="json")


def roles_of(api, email: str, password: str = PASSWORD) -> list[str]:
    pair = api.post("/api/auth/login", {"email": email, "password": password}, format="json")
    assert pair.status_code == 200, pair.json()
    return api.get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {pair.json()['access']}").json()["roles"]


def test_registration_is_closed_by_default(api):
    response = register(api)
    assert response.status_code == 403
    assert "closed" in response.json()["error"]
    assert not User.objects.filter(email="new@example.com").exists()


def test_invite_only_registration_takes_the_invited_role_once(api, settings):
    settings.REGISTRATION_POLICY = "invite"
    admin = UserFactory(role="admin")
    invite = api.post(
        "/api/admin/invitations", {"email": "new@example.com", "role": "user"}, format="json", **bearer(admin)
    )
    token = invite.json()["invitation"]
    assert register(api, invitation="wrong").status_code == 403
    assert register(api, email="other@example.com", invitation=token).status_code == 403
    assert register(api, invitation=token).status_code == 202
    assert roles_of(api, "new@example.com") == ["user"]
    assert register(api, email="new@example.com", invitation=token).status_code == 403  # used once


def test_open_registration_gives_the_readonly_role_and_no_app(api, settings):
    settings.REGISTRATION_POLICY = "open"
    assert register(api).status_code == 202
    pair = api.post("/api/auth/login", {"email": "new@example.com", "password": PASSWORD}, format="json").json()
    profile = api.get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {pair['access']}").json()
    assert profile["roles"] == ["readonly"] and profile["appAccess"] == []


def test_open_registration_answers_alike_whether_or_not_the_email_has_an_account(api, settings):
    settings.REGISTRATION_POLICY = "open"
    existing = UserFactory(password=PASSWORD, name="Kept Name", role="user")
    taken = register(api, email=existing.email.upper(), password="another sensible passphrase", name="Intruder")
    free = register(api, email="free@example.com", password="another sensible passphrase", name="Intruder")
    assert taken.status_code == free.status_code == 202
    assert taken.content == free.content
    # X-Request-ID is each request's own random id: it tells nothing about the account.
    assert {**taken.headers, "X-Request-ID": ""} == {**free.headers, "X-Request-ID": ""}
    for weak in (existing.email, "free2@example.com"):  # the password is judged before the email
        assert register(api, email=weak, password="password123").json()["extra"].keys() == {"password"}
    existing.refresh_from_db()
    assert existing.name == "Kept Name" and existing.check_password(PASSWORD)
    assert roles_of(api, existing.email) == ["user"]


def test_registering_a_taken_or_a_free_email_takes_similar_time(settings):
    settings.REGISTRATION_POLICY = "open"
    taken = UserFactory(password=PASSWORD)

    def timed(email: str) -> float:
        started = time.perf_counter()
        response = APIClient().post(REGISTER, {"email": email, "password": "a sensible passphrase"}, format="json")
        assert response.status_code == 202
        return time.perf_counter() - started

    on_taken = statistics.median(timed(taken.email) for _ in range(4))
    on_free = statistics.median(timed(f"fresh{i}@example.com") for i in range(4))
    # Both pay one Argon2 hash; without it a taken email would answer many times faster.
    assert 0.5 < on_taken / on_free < 2


@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        ("short1!", False),  # under 8
        ("password123", False),  # common
        ("12345678901234", False),  # numeric
        ("a sensible passphrase", True),
        ("x" * 40 + " long passphrases of 64+ characters are fine " + "y" * 30, True),
    ],
)
def test_password_policy(api, settings, password, accepted):
    settings.REGISTRATION_POLICY = "open"
    response = register(api, password=password)
    assert (response.status_code == 202) is accepted, response.json()
    if not accepted:
        assert response.json()["extra"]["password"]


def test_me_returns_the_profile_with_roles_permissions_and_app_access(api):
    user = UserFactory(role="readonly")
    body = api.get("/api/auth/me", **bearer(user)).json()
    assert body == {
        "userId": str(user.pk),
        "email": user.email,
        "name": user.name,
        "roles": ["readonly"],
        "permissions": ["apps:read"],
        "appAccess": [],
    }
