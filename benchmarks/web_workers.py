"""gunicorn's workers and threads for the web image: SDK event batches (10 events each) posted at
saturation to gunicorn with gunicorn.conf.py, for several worker x thread settings, on the production
stack the environment names (DATABASE_URL, REDIS_URL, KAFKA_BOOTSTRAP_SERVERS: the bus's durability
wait is what threads overlap). Writes the "Web workers" section of BENCHMARKS.md (the last one).

    DATABASE_URL=... REDIS_URL=... KAFKA_BOOTSTRAP_SERVERS=... python -m benchmarks.web_workers
"""

import argparse
import datetime as dt
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.run import PYTHON, ROOT, event, lua_post, manage_shell, run, wrk

SETTINGS = [(1, 1), (1, 4), (2, 1), (2, 4), (4, 2)]  # (workers, threads)
SECTION = "## Web workers"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(env: dict, workers: int, threads: int, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "attribution.wsgi"],
        cwd=ROOT,
        env={**env, "WEB_CONCURRENCY": str(workers), "GUNICORN_THREADS": str(threads)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=1)
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    options = parser.parse_args()
    for name in ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        if not os.environ.get(name):
            raise SystemExit(f"{name} must name the production-like service to measure against")
    env = {**os.environ, "RUN_BACKGROUND_JOBS": "false", "PYTHONUNBUFFERED": "1"}
    run([PYTHON, "manage.py", "migrate", "--no-input"], env)
    key = manage_shell(
        env,
        "import uuid; from apps_registry import keys; from tests.factories import AppFactory, UserFactory;"
        "owner = UserFactory(email=f'bench-{uuid.uuid4().hex}@example.com');"
        "print(keys.api_key_create(app=AppFactory(owner=owner), created_by=None).raw)",
    )
    with tempfile.TemporaryDirectory() as scratch:
        body = Path(scratch) / "batch.json"
        body.write_text(json.dumps({"events": [event(i) for i in range(10)]}))
        script = lua_post(Path(scratch) / "post.lua", body, key)
        rows = []
        for workers, threads in SETTINGS:
            port = _free_port()
            server = _serve(env, workers, threads, port)
            try:
                url = f"http://127.0.0.1:{port}/api/events"
                wrk(url, script, 2, options.connections)  # warm-up
                rps, p99 = wrk(url, script, options.seconds, options.connections)
            finally:
                server.terminate()
                server.wait(timeout=30)
            rows.append(f"| {workers} x {threads} | {rps:,.0f} | {rps * 10:,.0f} | {p99:.1f} |")
            print(rows[-1], flush=True)
    lines = [
        SECTION,
        "",
        f"Command: `python -m benchmarks.web_workers --seconds {options.seconds} --connections {options.connections}`",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. Machine: {os.cpu_count()} cores, shared with other work "
        f"(load average {os.getloadavg()[0]:.1f} at the end). gunicorn with gunicorn.conf.py, PostgreSQL, Redis and "
        "a Kafka-protocol broker (Tansu) on the same machine; 10-event batches to POST /api/events at saturation "
        "(wrk, 1 thread on core 1).",
        "",
        "| workers x threads | requests/s | events/s | p99 ms |",
        "|---|---|---|---|",
        *rows,
        "",
    ]
    output = Path(options.output)
    text = output.read_text() if output.exists() else "# Benchmarks\n"
    output.write_text(text.partition(SECTION)[0].rstrip() + "\n\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
