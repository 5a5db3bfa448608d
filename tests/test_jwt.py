"""Every way a token can be wrong is refused; every decision is taken from the database."""

import base64
import datetime as dt
import json

import jwt
import pytest
from django.conf import settings

from accounts import tokens
from accounts.models import SecurityEvent, TokenFamily
from tests.conftest import database_url, run_manage
from tests.factories import PASSWORD, AppFactory, UserFactory, bearer, grant

pytestmark = pytest.mark.django_db

KEY = settings.SIMPLE_JWT["SIGNING_KEY"]


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def forge(user, **changes) -> str:
    """A token like a genuine access token of ``user``, with ``changes`` applied, signed with the real key."""
    payload = claims_of(tokens.issue(user)["access"]) | changes
    return jwt.encode(payload, KEY, algorithm="HS256")


def me(api, token: str):
    return api.get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def user():
    return UserFactory(role="user")


def test_a_genuine_token_is_accepted_and_carries_the_seed_claims(api, user):
    token = tokens.issue(user)["access"]
    assert me(api, token).status_code == 200
    claims = claims_of(token)
    assert claims["userId"] == str(user.pk)
    assert claims["email"] == user.email
    assert claims["roles"] == ["user"]
    assert "analytics:read" in claims["permissions"]
    assert claims["aud"] == "unmogrowp-api" and claims["iss"] == "unmogrowp"


def test_alg_none_is_rejected(api, user):
    payload = claims_of(tokens.issue(user)["access"])
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=")
    assert me(api, f"{header.decode()}.{body.decode()}.").status_code == 401


def test_a_wrong_signature_is_rejected(api, user):
    payload = claims_of(tokens.issue(user)["access"])
    assert me(api, jwt.encode(payload, "another-key-" * 5, algorithm="HS256")).status_code == 401


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_another_algorithm_is_rejected(api, user):
    payload = claims_of(tokens.issue(user)["access"])
    assert me(api, jwt.encode(payload, KEY, algorithm="HS512")).status_code == 401


def test_an_expired_token_is_rejected(api, user):
    past = int((dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).timestamp())
    assert me(api, forge(user, exp=past)).status_code == 401


@pytest.mark.parametrize(("claim", "value"), [("aud", "another-api"), ("iss", "someone-else")])
def test_a_wrong_audience_or_issuer_is_rejected(api, user, claim, value):
    assert me(api, forge(user, **{claim: value})).status_code == 401


def test_a_tampered_role_claim_grants_nothing(api, user):
    app = AppFactory()
    token = forge(user, roles=["admin"], permissions=["admin:*"], appAccess=[str(app.id)])
    assert api.get("/api/admin/users", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 403
    assert api.get(f"/api/apps/{app.id}", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 404


def test_a_refresh_token_is_not_an_access_token(api, user):
    assert me(api, tokens.issue(user)["refresh"]).status_code == 401


def test_the_token_of_a_deactivated_user_is_rejected(api, user):
    token = tokens.issue(user)["access"]
    user.is_active = False
    user.save()
    assert me(api, token).status_code == 401


def test_a_revoked_role_applies_to_the_very_next_request(api, user):
    app = AppFactory()
    grant(user, app, "view_app", "view_analytics")
    token = tokens.issue(user)["access"]
    url = f"/api/dashboard/stats?app_id={app.id}"
    assert api.get(url, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    user.groups.clear()
    assert api.get(url, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 403


def test_a_revoked_app_grant_applies_to_the_very_next_request(api, user):
    app = AppFactory()
    grant(user, app, "view_app", "view_analytics")
    token = tokens.issue(user)["access"]
    url = f"/api/analytics/events?app_id={app.id}"
    assert api.get(url, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    api.delete(
        f"/api/admin/users/{user.pk}/apps/{app.id}",
        HTTP_AUTHORIZATION=f"Bearer {tokens.issue(UserFactory(role='admin'))['access']}",
    )
    assert api.get(url, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_grants_and_roles_revoked_in_another_process_apply_to_the_next_request(api):
    """The embedded default caches snapshots in each process's own memory: a revocation made by a
    shell or a management command must still reach this process's next request."""
    user, admin = UserFactory(role="user"), UserFactory(role="admin")
    app = AppFactory()
    grant(user, app, "view_app", "view_analytics")
    as_user, as_admin = bearer(user), bearer(admin)
    assert api.get(f"/api/apps/{app.id}", **as_user).status_code == 200  # both snapshots cached here now
    assert api.get("/api/admin/users", **as_admin).status_code == 200
    revoke = (
        "from accounts.rbac import services; from accounts.models import User; from apps_registry.models import App; "
        f"services.app_access_revoke(user=User.objects.get(pk='{user.pk}'), app=App.objects.get(pk='{app.id}')); "
        f"services.role_revoke(user=User.objects.get(pk='{admin.pk}'), role='admin')"
    )
    result = run_manage("shell", "-c", revoke, env={"DATABASE_URL": database_url()})
    assert result.returncode == 0, result.stderr
    assert api.get(f"/api/apps/{app.id}", **as_user).status_code == 404
    assert api.get("/api/admin/users", **as_admin).status_code == 403


def test_login_refresh_rotation_and_logout(api):
    user = UserFactory(role="user", password=PASSWORD)
    pair = api.post("/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json").json()
    rotated = api.post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json")
    assert rotated.status_code == 200
    new = rotated.json()
    assert me(api, new["access"]).status_code == 200

    out = api.post(
        "/api/auth/logout", {"refresh": new["refresh"]}, format="json", HTTP_AUTHORIZATION=f"Bearer {new['access']}"
    )
    assert out.status_code == 204
    assert api.post("/api/auth/refresh", {"refresh": new["refresh"]}, format="json").status_code == 401
    assert me(api, new["access"]).status_code == 401  # logout ends the access token too


def test_logout_refuses_another_users_refresh_token_and_revokes_nothing(api, user):
    victim = UserFactory(role="user")
    theirs = tokens.issue(victim)
    mine = tokens.issue(user)
    out = api.post(
        "/api/auth/logout", {"refresh": theirs["refresh"]}, format="json", HTTP_AUTHORIZATION=f"Bearer {mine['access']}"
    )
    garbage = api.post(
        "/api/auth/logout", {"refresh": "not.a.token"}, format="json", HTTP_AUTHORIZATION=f"Bearer {mine['access']}"
    )
    assert out.status_code == garbage.status_code == 401
    assert out.content == garbage.content  # exactly like an invalid token: it confirms nothing
    assert not TokenFamily.objects.filter(revoked_at__isnull=False).exists()
    assert me(api, theirs["access"]).status_code == 200
    assert api.post("/api/auth/refresh", {"refresh": theirs["refresh"]}, format="json").status_code == 200
    refused = SecurityEvent.objects.get(action=SecurityEvent.Action.LOGOUT)
    assert (refused.success, refused.user_id, refused.metadata["reason"]) == (
        False,
        user.pk,
        "another user's refresh token",
    )


def test_a_reused_rotated_refresh_token_revokes_the_family_and_is_audited(api, user):
    first = tokens.issue(user)
    second = api.post("/api/auth/refresh", {"refresh": first["refresh"]}, format="json").json()

    replay = api.post("/api/auth/refresh", {"refresh": first["refresh"]}, format="json")
    assert replay.status_code == 401
    # The thief's replay ended the whole login: the legitimate newer tokens are dead too.
    assert api.post("/api/auth/refresh", {"refresh": second["refresh"]}, format="json").status_code == 401
    assert me(api, second["access"]).status_code == 401
    family = TokenFamily.objects.get(user=user)
    assert family.revoked_reason == "refresh token reuse"
    reuse = SecurityEvent.objects.filter(action=SecurityEvent.Action.REFRESH_REUSE)
    assert reuse.count() == 1 and reuse.get().user_id == user.pk


def test_a_garbage_refresh_token_is_rejected(api):
    assert api.post("/api/auth/refresh", {"refresh": "not.a.token"}, format="json").status_code == 401
