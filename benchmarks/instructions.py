"""CPU instructions per request, ours against the bare endpoint: a yardstick the neighbours cannot move.

``python -m benchmarks.instructions [--requests N] [--sides ours,bare,segment]`` runs the Django stack
in process (the WSGI handler with every middleware, no server) under valgrind's callgrind, once per
side: ``POST /api/events`` (ours) and the bare parse-only endpoint with the benchmark's 100-event
batch, and ``POST /v1/batch`` (segment) with the same 100 events as a Segment SDK sends them. Only the measured
requests are counted (collection is on inside ``functools.reduce``, which wraps them), so set-up and
warm-up are left out. Counts repeat to within a fraction of a percent from run to run, where
requests/s on these shared machines move by half; they leave out the kernel (socket and file writes)
and the HTTP server, so they rank changes to our code, and `make bench` stays the measure of record.
Needs valgrind (apt-get install -y valgrind); takes about three minutes.
"""

import argparse
import functools
import gc
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATHS = {"ours": "/api/events", "bare": "/bench/parse", "segment": "/v1/batch"}


def _requests(path: str, count: int) -> None:
    """The child: ``count`` requests to ``path``, counted; runs under callgrind."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command

    from accounts.models import User
    from apps_registry import keys, services
    from benchmarks.run import basic, event, segment_message

    call_command("migrate", verbosity=0)
    owner = User.objects.create_superuser(email="instructions@example.com", password=None)
    key = keys.api_key_create(app=services.app_create(owner=owner, name="bench"), created_by=owner)[1]
    segment = path == PATHS["segment"]
    if segment:
        body = json.dumps({"batch": [segment_message(i) for i in range(100)]}).encode()
        credentials, accepted = {"HTTP_AUTHORIZATION": basic(key)}, 200
    else:
        body = json.dumps({"events": [event(i) for i in range(100)]}).encode()
        credentials, accepted = {"HTTP_X_API_KEY": key}, 202
    handler = WSGIHandler()

    def one() -> None:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            **credentials,
            "REMOTE_ADDR": "203.0.113.9",
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
        }
        response = handler(environ, lambda status, headers, exc_info=None: None)
        b"".join(response)
        response.close()
        if response.status_code != accepted:
            raise RuntimeError(f"{path}: {response.status_code} {response.content!r}")

    for _ in range(50):  # warm-up: caches built, as in a server that has been running a while
        one()
    gc.freeze()

    def measured(accumulator, _):
        for _ in range(count):
            one()
        return accumulator

    functools.reduce(measured, [None], None)


def _count(side: str, count: int, work: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        VAR_DIR=str(work / side),
        DJANGO_SETTINGS_MODULE="benchmarks.settings",
        DEBUG="0",
        LOG_LEVEL="WARNING",
    )
    env.update(INGEST_RATE_LIMIT_PER_KEY="100000000", RUN_BACKGROUND_JOBS="0", ALLOWED_HOSTS="*")
    for name in ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", "CLICKHOUSE_URL"):
        env.pop(name, None)
    (work / side).mkdir()
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--toggle-collect=functools_reduce",
        f"--callgrind-out-file={work / side}.out",
    ]
    cmd += [sys.executable, "-m", "benchmarks.instructions", "--child", PATHS[side], "--requests", str(count)]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--sides", default="ours,bare", help=f"comma-separated, of {', '.join(PATHS)}")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _requests(args.child, args.requests)
        return
    with tempfile.TemporaryDirectory(prefix="ump-instructions-") as work:
        sides = args.sides.split(",")
        runs = {side: _count(side, args.requests, Path(work)) for side in sides}  # side by side
        counts = {}
        for side, run in runs.items():
            _, errors = run.communicate()
            collected = re.search(r"Collected : (\d+)", errors)
            if run.returncode or not collected:
                sys.exit(f"{side}: valgrind failed\n{errors[-3000:]}")
            counts[side] = int(collected.group(1)) / args.requests
    ratios = [(a, b) for a, b in (("ours", "bare"), ("segment", "ours")) if a in counts and b in counts]
    print(
        "instructions per 100-event request: "
        + ", ".join(f"{side} {counts[side]:,.0f}" for side in sides)
        + "".join(f", {a} / {b} {counts[a] / counts[b]:.2f}" for a, b in ratios)
    )


if __name__ == "__main__":
    main()
