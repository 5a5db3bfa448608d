"""Sign-in brute-force protection, user enumeration, and API rate limits."""

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import PASSWORD, UserFactory, bearer

LOGIN = "/api/auth/login"


def login(email: str, password: str, ip: str = "198.51.100.7"):
    return APIClient().post(LOGIN, {"email": email, "password": password}, format="json", REMOTE_ADDR=ip)


@pytest.mark.django_db(transaction=True)
def test_concurrent_wrong_passwords_lock_the_account_exactly_at_the_limit(settings):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    user = UserFactory(password=PASSWORD)

    def attempt(_):
        try:
            return login(user.email, "wrong password!").status_code
        finally:
            connection.close()  # this worker thread's own connection

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(attempt, range(24)))
    assert statuses.count(401) == 5
    assert statuses.count(429) == 19
    assert login(user.email, PASSWORD).status_code == 429  # even the right password waits out the lockout


@pytest.mark.django_db
def test_unknown_email_and_wrong_password_answer_byte_identically():
    user = UserFactory(password=PASSWORD)
    wrong = login(user.email, "wrong password!")
    unknown = login("nobody@example.com", "wrong password!")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.content == unknown.content
    # X-Request-ID is each request's own random id: it tells nothing about the account.
    assert {**wrong.headers, "X-Request-ID": ""} == {**unknown.headers, "X-Request-ID": ""}


@pytest.mark.django_db
def test_unknown_email_and_wrong_password_take_similar_time():
    user = UserFactory(password=PASSWORD)

    def timed(email):
        started = time.perf_counter()
        login(email, "wrong password!", ip=f"203.0.113.{len(email) % 200}")
        return time.perf_counter() - started

    wrong = statistics.median(timed(user.email) for _ in range(4))
    unknown = statistics.median(timed(f"nobody{i}@example.com") for i in range(4))
    # Both pay one Argon2 verification; without it an unknown email would answer ~100x faster.
    assert 0.4 < unknown / wrong < 2.5


@pytest.mark.django_db
def test_a_locked_account_does_not_reveal_whether_it_exists(settings):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 2
    user = UserFactory(password=PASSWORD)
    for email in (user.email, "ghost@example.com"):
        statuses = [login(email, "wrong password!").status_code for _ in range(3)]
        assert statuses == [401, 401, 429]


@pytest.mark.django_db
def test_the_lockout_expires(settings):
    # The failures must land within the lockout window however busy the machine is: a fast hasher
    # keeps each attempt short (Argon2's cost is not what this tests).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 2
    settings.LOGIN_LOCKOUT_SECONDS = 2
    user = UserFactory(password=PASSWORD)
    assert [login(user.email, "wrong password!").status_code for _ in range(3)] == [401, 401, 429]
    time.sleep(2.2)
    assert login(user.email, PASSWORD).status_code == 200


@pytest.mark.django_db
def test_an_admin_unlocks_an_account(settings, api):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 2
    user = UserFactory(password=PASSWORD)
    [login(user.email, "wrong password!") for _ in range(3)]
    assert login(user.email, PASSWORD).status_code == 429
    admin = UserFactory(role="admin")
    assert api.post(f"/api/admin/users/{user.pk}/unlock", **bearer(admin)).status_code == 204
    assert login(user.email, PASSWORD).status_code == 200


@pytest.mark.django_db
def test_one_ip_guessing_many_accounts_is_locked_out(settings):
    settings.LOGIN_MAX_FAILURES_PER_IP = 4
    statuses = [login(f"victim{i}@example.com", "wrong password!", ip="192.0.2.50").status_code for i in range(6)]
    assert statuses == [401, 401, 401, 401, 429, 429]
    assert login("victim9@example.com", "wrong password!", ip="192.0.2.51").status_code == 401


@pytest.mark.django_db
def test_the_lockout_answer_says_when_to_retry(settings):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 1
    login("a@example.com", "wrong password!")
    locked = login("a@example.com", "wrong password!")
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) == settings.LOGIN_LOCKOUT_SECONDS


@pytest.mark.django_db
def test_api_rate_limit_per_user_answers_429_with_retry_after(settings, api):
    settings.API_RATE_LIMIT_PER_USER = 3
    headers = bearer(UserFactory(role="user"))
    statuses = [api.get("/api/auth/me", **headers).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = api.get("/api/auth/me", **headers)
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert api.get("/api/auth/me", **bearer(UserFactory(role="user"))).status_code == 200  # per user


@pytest.mark.django_db
def test_api_rate_limit_per_ip_for_anonymous_callers(settings):
    settings.API_RATE_LIMIT_PER_IP = 2
    client = APIClient()
    refresh = {"refresh": "not.a.token"}
    statuses = [
        client.post("/api/auth/refresh", refresh, format="json", REMOTE_ADDR="192.0.2.9").status_code for _ in range(3)
    ]
    assert statuses == [401, 401, 429]


@pytest.mark.services
@pytest.mark.django_db
def test_sign_in_fails_closed_and_rate_limits_fail_open_when_redis_is_down(settings, api, redis_url):
    from tests.conftest import free_port

    user = UserFactory(role="user", password=PASSWORD)
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    assert login(user.email, PASSWORD).status_code == 503
    assert api.get("/api/auth/me", **bearer(user)).status_code == 200
