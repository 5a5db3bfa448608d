"""CPU instructions per request, ours against the bare endpoint: a yardstick the neighbours cannot move.

``python -m benchmarks.instructions [--requests N]`` runs the Django stack in process (the WSGI
handler with every middleware, no server) under valgrind's callgrind, for each hot path (a 100-event
batch, a single event, a click, a 100-message Segment batch) once for our endpoint and once for the
bare one beside it. Only the
measured requests are counted (collection is on inside ``functools.reduce``, which wraps them), so
set-up and warm-up are left out. Counts repeat to within a fraction of a percent from run to run,
where requests/s on these shared machines move by half; they leave out the kernel (socket and file
writes) and the HTTP server, so they rank changes to our code, and the wrk runs stay the measure of
record for rates.

Each path has a budget for ours / bare: the hand-inlined code of the hot paths (events.ingestion.
services.EventRows.row, touch rows) stays only while it keeps its path within budget, and what each
inlining buys is in BENCHMARKS.md. `make bench` runs this and fails when a budget is exceeded. Needs
valgrind (apt-get install -y valgrind); takes a few minutes.
"""

import argparse
import datetime as dt
import functools
import gc
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks import markdown

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class HotPath:
    name: str
    ours: str
    bare: str
    events: int  # per request; 0 for a click
    budget: float  # the highest ours / bare allowed
    segment: bool = False  # the events as a Segment SDK sends them (benchmarks.run.segment_message)


HOT_PATHS = [
    HotPath("100-event batch", "POST /api/events", "POST /bench/parse", 100, budget=3.0),
    HotPath("single event", "POST /api/events", "POST /bench/parse", 1, budget=1.45),
    HotPath("click", "GET /c/{code}", "GET /bench/redirect/{code}", 0, budget=1.35),
    HotPath("100-message Segment batch", "POST /v1/batch", "POST /bench/parse", 100, budget=3.0, segment=True),
]
SECTION = "Instructions per request"


def _requests(target: str, events: int, count: int, segment: bool) -> None:
    """The child: ``count`` requests ("METHOD /path"), counted; runs under callgrind."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command

    from accounts.models import User
    from apps_registry import keys, links, services
    from benchmarks.run import basic, event, segment_message

    call_command("migrate", verbosity=0)
    owner = User.objects.create_superuser(email="instructions@example.com", password=None)
    app = services.app_create(owner=owner, name="bench")
    key = keys.api_key_create(app=app, created_by=owner).raw
    link = links.link_create(app=app, created_by=owner, name="l", media_source="meta", web_url="https://example.com/")
    method, path = target.format(code=link.code).split(" ")
    if segment:
        body = json.dumps({"batch": [segment_message(i) for i in range(events)]}).encode()
    else:
        body = json.dumps({"events": [event(i) for i in range(events)]}).encode() if method == "POST" else b""
    credentials = {"HTTP_AUTHORIZATION": basic(key)} if segment else {"HTTP_X_API_KEY": key}
    expected = 302 if method == "GET" else 200 if path.startswith("/v1/") else 202
    handler = WSGIHandler()

    def one() -> None:
        environ = {
            "REQUEST_METHOD": method,
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
        if response.status_code != expected:
            raise RuntimeError(f"{target}: {response.status_code} {response.content!r}")

    for _ in range(50):  # warm-up: caches built, as in a server that has been running a while
        one()
    gc.freeze()

    def measured(accumulator, _):
        for _ in range(count):
            one()
        return accumulator

    functools.reduce(measured, [None], None)


def _count(target: str, events: int, count: int, work: Path, segment: bool) -> subprocess.Popen:
    side = work / f"{len(list(work.iterdir()))}"
    env = dict(
        os.environ,
        VAR_DIR=str(side),
        DJANGO_SETTINGS_MODULE="benchmarks.settings",
        DEBUG="0",
        LOG_LEVEL="WARNING",
    )
    env.update(INGEST_RATE_LIMIT_PER_KEY="100000000", RUN_BACKGROUND_JOBS="0", ALLOWED_HOSTS="*")
    # The memories of keys, links and opt-out lists expire by the clock: under callgrind, on a busy
    # machine, a few seconds span only a few requests, and each refresh's database read would be counted
    # with them. Kept for the whole run, the count no longer depends on how fast the machine runs.
    env.update({name: "3600" for name in ("API_KEY_CACHE_SECONDS", "LINK_CACHE_SECONDS", "OPT_OUT_CACHE_SECONDS")})
    for name in ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", "CLICKHOUSE_URL"):
        env.pop(name, None)
    side.mkdir()
    cmd = ["valgrind", "--tool=callgrind", "--toggle-collect=functools_reduce", f"--callgrind-out-file={side}.out"]
    cmd += [sys.executable, "-m", "benchmarks.instructions", "--child", target]
    cmd += ["--events", str(events), "--requests", str(count), *(["--segment"] if segment else [])]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _collected(run: subprocess.Popen, count: int) -> float:
    _, errors = run.communicate()
    collected = re.search(r"Collected : (\d+)", errors)
    if run.returncode or not collected:
        sys.exit(f"valgrind failed\n{errors[-3000:]}")
    return int(collected.group(1)) / count


def measure(count: int) -> list[dict]:
    """Each hot path's instructions per request, ours and bare side by side (one per core)."""
    results = []
    with tempfile.TemporaryDirectory(prefix="ump-instructions-") as work:
        for hot in HOT_PATHS:
            ours = _count(hot.ours, hot.events, count, Path(work), hot.segment)
            bare = _count(hot.bare, hot.events, count, Path(work), hot.segment)
            result = {"path": hot, "ours": _collected(ours, count), "bare": _collected(bare, count)}
            result["ratio"] = result["ours"] / result["bare"]
            results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--events", type=int, default=100, help=argparse.SUPPRESS)
    parser.add_argument("--segment", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="Print only; leave BENCHMARKS.md as it is.")
    args = parser.parse_args()
    if args.child:
        _requests(args.child, args.events, args.requests, args.segment)
        return
    results = measure(args.requests)
    rows = [
        f"| {r['path'].name} | `{r['path'].ours}` | {r['ours']:,.0f} | {r['bare']:,.0f} | {r['ratio']:.2f} | "
        f"≤ {r['path'].budget} {'✅' if r['ratio'] <= r['path'].budget else '❌'} |"
        for r in results
    ]
    print("\n".join(rows))
    if not args.no_write:
        markdown.write_section(
            SECTION,
            [
                "",
                f"Command: `python -m benchmarks.instructions --requests {args.requests}` (part of `make bench`). "
                f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. The Django stack in process under callgrind "
                "(every middleware, no HTTP server, no kernel): instructions per request, repeatable on a busy machine.",
                "",
                "| path | endpoint | ours | bare | ours / bare | budget |",
                "|---|---|---|---|---|---|",
                *rows,
                "",
                "What the hand-inlined code buys: the section *Hand-inlined hot-path code* below.",
            ],
        )
    if any(r["ratio"] > r["path"].budget for r in results):
        sys.exit("a hot path is over its instruction budget")


if __name__ == "__main__":
    main()
