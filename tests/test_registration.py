"""Registration policies (closed by default, invite-only, open) and the password policy."""

import pytest

from accounts.models import User
from tests.factories import PASSWORD, UserFactory, bearer

pytestmark = pytest.mark.django_db
REGISTER = "/api/auth/register"


def register(api, **body):
    return api.post(REGISTER, {"email": "new@example.com", "password": PASSWORD, **body}, format="json")


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
    created = register(api, invitation=token)
    assert created.status_code == 201
    assert created.json()["roles"] == ["user"]
    assert register(api, email="new@example.com", invitation=token).status_code == 403  # used once


def test_open_registration_gives_the_readonly_role_and_no_app(api, settings):
    settings.REGISTRATION_POLICY = "open"
    created = register(api)
    assert created.status_code == 201
    assert created.json()["roles"] == ["readonly"] and created.json()["appAccess"] == []
    login = api.post("/api/auth/login", {"email": "new@example.com", "password": PASSWORD}, format="json")
    assert login.status_code == 200


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
    assert (response.status_code == 201) is accepted, response.json()
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
