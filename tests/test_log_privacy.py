"""No raw identifier, IP, API key or token reaches a log line, and every line names its request.

Real traffic (clicks and impressions with the networks' macros filled in, SDK events, the old
query-string beacon, sign-in and JWT-authenticated calls, a 404) goes through real servers in
their own processes: the development server (`manage.py runserver`, readable lines) and gunicorn
with the image's gunicorn.conf.py (JSON lines, as in production). Both run the consumer and the
continuous attribution in their background threads (the embedded default). Everything they print is
captured: no line may hold any of the values sent, and one request's id is in the web server's line,
the consumer's and the engine's.
"""

import json
import logging
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

from core.logs import RedactingFilter
from tests.conftest import PROJECT_DIR, clean_environment, free_port, run_manage

IDFA = str(uuid.uuid4()).upper()
GAID = str(uuid.uuid4())
DEVICE_IP = "198.51.100.203"
CLICK_ID = f"clk-{uuid.uuid4().hex}"
USER_ID = f"customer-{uuid.uuid4().hex[:12]}"
PASSWORD = f"pw-{uuid.uuid4().hex}"

SETUP = f"""
import json
from apps_registry import keys, links
from tests.factories import AppFactory, UserFactory
user = UserFactory(role="admin", password={PASSWORD!r})
app = AppFactory(owner=user)
_, raw_key = keys.api_key_create(app=app, created_by=user)
link = links.link_create(
    app=app, created_by=user, name="Spring", media_source="meta", web_url="https://shop.example.com/"
)
print(json.dumps({{"email": user.email, "key": raw_key, "code": link.code}}))
"""


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_open = urllib.request.build_opener(NoRedirects).open


def answer(base: str, path: str, *, body: dict | None = None, headers=None, method=None):
    data = json.dumps(body).encode() if body is not None else None
    call = urllib.request.Request(base + path, data=data, headers=headers or {}, method=method)  # noqa: S310 (http to the test server)
    try:
        with _open(call, timeout=30) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def request(base: str, path: str, **kwargs) -> tuple[int, bytes]:
    status, body, _ = answer(base, path, **kwargs)
    return status, body


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> dict:
    """A migrated embedded site in its own directory, with an admin, an app, its key and a link."""
    env = {"VAR_DIR": str(tmp_path_factory.mktemp("log-privacy-var"))}
    for command in (("migrate", "--no-input"), ("migrate_clickhouse",)):
        done = run_manage(*command, env=env)
        assert done.returncode == 0, done.stderr
    done = run_manage("shell", "-c", SETUP, env=env)
    assert done.returncode == 0, done.stderr
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "env": env}


SERVERS = {
    "runserver": [sys.executable, "manage.py", "runserver", "--noreload"],
    "gunicorn": [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--workers", "1"],
}


LOG_FORMATS = {"runserver": "plain", "gunicorn": "json"}
# The continuous attribution, at once and often, so that the test sees its line within seconds.
FAST_ATTRIBUTION = {"ATTRIBUTION_SETTLE_SECONDS": "0", "ATTRIBUTION_INTERVAL_SECONDS": "0.5"}


def serve(kind: str, port: int, site: dict, log_path) -> subprocess.Popen:
    address = f"127.0.0.1:{port}"
    arguments = [address] if kind == "runserver" else ["--bind", address, "attribution.wsgi:application"]
    env = {**site["env"], **FAST_ATTRIBUTION, "PYTHONUNBUFFERED": "1", "LOG_FORMAT": LOG_FORMATS[kind]}
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            SERVERS[kind] + arguments,
            cwd=PROJECT_DIR,
            env=clean_environment(env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert server.poll() is None, log_path.read_text()
        try:
            if request(f"http://{address}", "/health/live")[0] == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise AssertionError(f"{kind} did not answer within 90 s:\n{log_path.read_text()}")


def traffic(base: str, site: dict) -> list[str]:
    """Requests as ad networks, SDKs and people send them; returns the secrets they carried."""
    code, key = site["code"], site["key"]
    macros = f"click_id={CLICK_ID}&idfa={IDFA}&gaid={GAID}&ip={DEVICE_IP}&ua=Mozilla"
    assert request(base, f"/c/{code}?{macros}", headers={"X-Forwarded-For": DEVICE_IP})[0] == 302
    assert request(base, f"/i/{code}?{macros}")[0] == 200
    event = {"event_name": "purchase", "user_id": USER_ID, "ip": DEVICE_IP, "device_ids": {"idfa": IDFA}}
    sdk = {"X-Api-Key": key, "Content-Type": "application/json"}
    assert request(base, "/api/events", body={"events": [event]}, headers=sdk)[0] == 202
    beacon = {"Content-Type": "text/plain"}
    assert request(base, "/api/events", body={"api_key": key, "events": [event]}, headers=beacon)[0] == 202
    in_url = request(base, f"/api/events?api_key={key}", body={"events": [event]}, headers=beacon)
    assert in_url[0] == 401, "the key in the URL is no way in"
    status, answer = request(
        base,
        "/api/auth/login",
        body={"email": site["email"], "password": PASSWORD},
        headers={"Content-Type": "application/json"},
    )
    assert status == 200, answer
    tokens = json.loads(answer)
    access, refresh = tokens["access"], tokens["refresh"]
    assert request(base, "/api/auth/me", headers={"Authorization": f"Bearer {access}"})[0] == 200
    assert request(base, f"/api/auth/me?access_token={access}&refresh={refresh}")[0] == 401
    assert request(base, f"/no/such/page?idfa={IDFA}&api_key={key}")[0] == 404
    return [IDFA, GAID, DEVICE_IP, CLICK_ID, USER_ID, PASSWORD, key, key.split("_", 2)[2], access, refresh]


def install(base: str, site: dict) -> str:
    """An SDK's install event; returns its request's id, once the consumer and the engine logged it."""
    event = {"event_name": "install", "user_id": USER_ID, "device_ids": {"idfa": IDFA}}
    headers = {"X-Api-Key": site["key"], "Content-Type": "application/json"}
    status, _, answered = answer(base, "/api/events", body={"events": [event]}, headers=headers)
    assert status == 202
    return answered["X-Request-ID"]


@pytest.mark.parametrize("kind", SERVERS)
def test_no_log_line_carries_an_identifier_an_ip_a_key_or_a_token(site, tmp_path, kind):
    log_path = tmp_path / f"{kind}.log"
    server = serve(kind, free_port(), site, log_path)
    try:
        base = "http://" + (server.args[-1] if kind == "runserver" else server.args[-2])
        secrets = traffic(base, site)
        request_id = install(base, site)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(
            any(request_id in line and marker in line for line in log_path.read_text().splitlines())
            for marker in ("stored", "attributed")
        ):
            time.sleep(0.5)
    finally:
        server.terminate()
        # gunicorn lets a busy worker finish for up to its graceful timeout (30 s), then kills it.
        server.wait(timeout=60)
    lines = log_path.read_text().splitlines()
    assert any(f"/c/{site['code']}?[redacted]" in line for line in lines), "the request lines were logged"
    leaks = [(secret, line) for line in lines for secret in secrets if secret in line]
    assert not leaks, "\n".join(f"{secret!r} in: {line}" for secret, line in leaks)

    # One request's id: the web server's request line, the consumer's and the engine's.
    carrying = [line for line in lines if request_id in line]
    assert any("POST /api/events" in line and "202" in line for line in carrying), carrying
    assert any("stored" in line and "events row(s)" in line for line in carrying), carrying
    assert any("attributed" in line and "conversion(s)" in line for line in carrying), carrying
    if LOG_FORMATS[kind] == "json":
        records = [json.loads(line) for line in lines if line.startswith("{")]
        # Every line of Python's logging is JSON (chdb's own C++ may print a line to stderr at exit).
        plain = [line for line in lines if not line.startswith("{")]
        assert not [line for line in plain if re.search(r"\b(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b", line)], plain
        web = next(r for r in records if "POST /api/events" in r["message"] and request_id in r["message"])
        assert web["request_id"] == request_id and {"time", "level", "logger"} <= set(web)
    else:
        assert any(f"[{request_id}]" in line and "POST /api/events" in line for line in carrying), carrying


def test_keys_tokens_and_addresses_are_cut_from_any_message_and_traceback():
    key = f"ump_AbCd1234_{uuid.uuid4().hex}"
    token = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VySWQiOiI0MiJ9.c2lnbmF0dXJl"
    try:
        raise ValueError(f"could not open https://shop.example.com/landing?idfa={IDFA}")
    except ValueError:
        record = logging.LogRecord(
            "unmogrowp",
            logging.ERROR,
            __file__,
            1,
            "%s; key %s; token %s",
            (f"Invalid request from ip={DEVICE_IP}: bad", key, token),
            sys.exc_info(),
        )
    RedactingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "ump_AbCd1234_[redacted]" in text and "[redacted JWT]" in text and "ip=[redacted]" in text
    assert "https://shop.example.com/landing?[redacted]" in text
    for secret in (key, token, DEVICE_IP, IDFA):
        assert secret not in text
