"""`make bench`: ingestion, click redirect and consumer throughput, each as a ratio to a bare endpoint
measured in the same run on the same server stack. Writes BENCHMARKS.md.

The server (gunicorn) is pinned to core 0 and the load generators (wrk; openloop.py for the tails at a
fixed rate) to core 1. Every figure is a ratio against a bare endpoint on the same server, the two
taking turns in short rounds: these machines share their cores with neighbours whose load moves the
speed by half within seconds, and a slow spell then hits both runs of a round alike. The ratio is the
median of the rounds' ratios.
"""

import argparse
import base64
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from benchmarks import embedded, markdown

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
PORT = 18500
BASE = f"http://127.0.0.1:{PORT}"


def run(cmd, env, **kwargs) -> str:
    return subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True, **kwargs).stdout


def manage_shell(env, code: str) -> str:
    return run([PYTHON, "manage.py", "shell", "-c", code], env).strip().splitlines()[-1]


def event(i: int) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_name": "purchase" if i % 10 == 0 else "session_start",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
        "device_ids": {"idfa": str(uuid.uuid4())},
        "user_id": f"user-{i}",
        "platform": "ios",
        "app_version": "3.2.0",
        "attribution": {"source": "meta", "campaign": "spring"},
        "properties": {"level": str(i % 50), "screen": "shop"},
        **({"revenue": 4.99, "currency": "USD"} if i % 10 == 0 else {}),
    }


def segment_message(i: int) -> dict:
    """``event(i)`` as a Segment SDK sends it: the same facts (one IDFA, one user id: the same privacy
    work on both sides), in the spec's shape, with the rest of the context a mobile SDK adds to every
    message (analytics-swift's), which the decoder skips unread."""
    now = dt.datetime.now(dt.UTC).isoformat()
    return {
        "type": "track",
        "event": "Order Completed" if i % 10 == 0 else "Application Opened",
        "messageId": str(uuid.uuid4()),
        "userId": f"user-{i}",
        "timestamp": now,
        "properties": {
            "level": str(i % 50),
            "screen": "shop",
            **({"revenue": 4.99, "currency": "USD"} if i % 10 == 0 else {}),
        },
        "context": {
            "app": {"name": "Shop", "version": "3.2.0", "build": "320", "namespace": "com.example.shop"},
            "campaign": {"source": "meta", "name": "spring"},
            "device": {
                "advertisingId": str(uuid.uuid4()).upper(),
                "adTrackingEnabled": True,
                "manufacturer": "Apple",
                "model": "iPhone16,2",
                "name": "iPhone",
                "type": "ios",
            },
            "library": {"name": "analytics-swift", "version": "1.7.3"},
            "locale": "en-US",
            "network": {"cellular": False, "wifi": True},
            "os": {"name": "iOS", "version": "18.1"},
            "screen": {"width": 393, "height": 852},
            "timezone": "Europe/Berlin",
            "traits": {},
            "instanceId": "8c1f5a55-6a4d-4a8d-9d0b-3d2f2f1d7c11",
        },
        "integrations": {},
        "_metadata": {"bundled": ["Segment.io"], "unbundled": [], "bundledIds": []},
    }


def wrk(url: str, script: Path | None, seconds: int, connections: int) -> tuple[float, float]:
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    cmd += (["-s", str(script)] if script else []) + [url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} failed requests\n{out}")
    return rps, _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1))


def rate_turn(seconds: int, rounds: int) -> int:
    """Seconds of one wrk run when the maximum rates split ``seconds`` into ``rounds``."""
    return max(1, round(seconds / rounds))


def tail_turn(seconds: int) -> int:
    """Seconds of one open-loop run of the tails."""
    return max(2, seconds // 2)


def side_by_side(
    ours: str,
    bare: str,
    script: Path | None,
    seconds: int,
    connections: int,
    rounds: int,
    bare_script: Path | None = None,
) -> dict:
    """Ours and the bare endpoint taking turns, ``rounds`` times ``seconds / rounds`` each: the median
    requests/s and saturated p99 of each side, and the median of the rounds' ratios. ``bare_script``:
    the bare side's own requests (the same as ours when absent)."""
    turn = rate_turn(seconds, rounds)
    bare_script = bare_script or script
    pairs = [(wrk(bare, bare_script, turn, connections), wrk(ours, script, turn, connections)) for _ in range(rounds)]
    return {
        "bare": tuple(statistics.median(run[i] for run, _ in pairs) for i in (0, 1)),
        "ours": tuple(statistics.median(run[i] for _, run in pairs) for i in (0, 1)),
        "ratio": statistics.median(ours[0] / bare[0] for bare, ours in pairs),
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def empty_outbox(env) -> None:
    """Delete what the load left on the bus and truncate SQLite's log (from another process)."""
    manage_shell(
        env,
        "from django.db import connection; from events.models import OutboxMessage;"
        "OutboxMessage.objects.all().delete(); cursor = connection.cursor();"
        "cursor.execute('PRAGMA wal_checkpoint(TRUNCATE)'); print(cursor.fetchone())",
    )


def tail_p99(url: str, rate: float, seconds: int, body: Path | None = None, key: str | None = None) -> float:
    """p99 in ms of an open-loop load at ``rate`` (benchmarks.openloop), from core 1."""
    cmd = ["taskset", "-c", "1", PYTHON, "-m", "benchmarks.openloop", url, "--rate", f"{rate:.0f}"]
    cmd += ["--seconds", str(seconds)]
    if body:
        cmd += ["--body", str(body), "--header", f"X-Api-Key: {key}"]
    result = json.loads(subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout)
    if result["failed"]:
        raise RuntimeError(f"{url}: {result['failed']} failed requests at {rate:.0f}/s")
    return result["p99_ms"]


def tails_side_by_side(ours: str, bare: str, rate: float, seconds: int, rounds: int, **post) -> tuple[float, float]:
    """Median p99 of ``rounds`` rounds, ours and bare taking turns: a neighbour's stall (on these
    machines one can hold the core for 100 ms or more, the bare endpoint's p99 included) spoils a
    round, and the median stands as long as fewer than half of them are spoilt."""
    turn = tail_turn(seconds)
    runs = [(tail_p99(ours, rate, turn, **post), tail_p99(bare, rate, turn, **post)) for _ in range(rounds)]
    return tuple(statistics.median(side) for side in zip(*runs, strict=True))


def lua_post(path: Path, body: Path, key: str, *, header: str = "X-Api-Key") -> Path:
    path.write_text(
        f'wrk.method = "POST"\nwrk.body = io.open("{body}", "rb"):read("*a")\n'
        f'wrk.headers["Content-Type"] = "application/json"\nwrk.headers["{header}"] = "{key}"\n'
    )
    return path


def basic(key: str) -> str:
    """The Authorization header a Segment SDK sends with ``key`` as its write key."""
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="ours and bare taking turns: the maximum rates split --seconds into this many rounds; "
        "the tails run this many rounds of --seconds / 2",
    )
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument(
        "--only",
        choices=["consumer", "segment"],
        help="Run one part and print its figures as JSON; BENCHMARKS.md is left as it is.",
    )
    args = parser.parse_args()
    for tool in () if args.only == "consumer" else ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install -y wrk util-linux")

    work = Path(tempfile.mkdtemp(prefix="ump-bench-"))
    env = embedded.environment(
        work,
        DJANGO_SETTINGS_MODULE="benchmarks.settings",
        RUN_BACKGROUND_JOBS="0",
        INGEST_RATE_LIMIT_PER_KEY="100000000",
    )
    run([PYTHON, "manage.py", "migrate", "-v0"], env)
    run([PYTHON, "manage.py", "migrate_clickhouse"], env)
    if args.only == "consumer":
        print(manage_shell(env, CONSUMER_BENCH))
        shutil.rmtree(work, ignore_errors=True)
        return
    setup = (
        "from accounts.models import User; from apps_registry import services, keys, links;"
        "u = User.objects.create_superuser(email='bench@example.com', password=None);"
        "a = services.app_create(owner=u, name='bench');"
        "k = keys.api_key_create(app=a, created_by=u)[1];"
        "l = links.link_create(app=a, created_by=u, name='l', media_source='meta', web_url='https://example.com/');"
        "print(k + ' ' + l.code)"
    )
    key, code = manage_shell(env, setup).split()
    batch, single = work / "batch100.json", work / "single.json"
    batch.write_text(json.dumps({"events": [event(i) for i in range(100)]}))
    single.write_text(json.dumps({"events": [event(0)]}))
    post_batch, post_single = lua_post(work / "batch.lua", batch, key), lua_post(work / "single.lua", single, key)
    segment_batch = work / "segment100.json"
    segment_batch.write_text(json.dumps({"batch": [segment_message(i) for i in range(100)]}))
    post_segment = lua_post(work / "segment.lua", segment_batch, basic(key), header="Authorization")

    server = subprocess.Popen(
        [
            "taskset",
            "-c",
            "0",
            str(Path(PYTHON).parent / "gunicorn"),
            "attribution.wsgi:application",
            "-b",
            f"127.0.0.1:{PORT}",
            "-w",
            "1",
            "--threads",
            "1",
            # as in the image: the worker's heartbeat file on disk can stall a request behind the disk
            "--worker-tmp-dir",
            "/dev/shm",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{BASE}/health/live", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        s, c, r = args.seconds, args.connections, args.rounds
        # Segment's batch against our own batch endpoint, in the same turns (issue 21: within 0.8 x).
        segment = side_by_side(f"{BASE}/v1/batch", f"{BASE}/api/events", post_segment, s, c, r, post_batch)
        if args.only == "segment":
            print(json.dumps(segment))
            return
        results = {
            "batch": side_by_side(f"{BASE}/api/events", f"{BASE}/bench/parse", post_batch, s, c, r),
            "single": side_by_side(f"{BASE}/api/events", f"{BASE}/bench/parse", post_single, s, c, r),
            "click": side_by_side(f"{BASE}/c/{code}", f"{BASE}/bench/redirect/{code}", None, s, c, r),
            "segment": segment,
        }
        # At half our maximum rate, beside the bare endpoint at the same rate: how much of the tail is
        # the stack and the machine rather than our code. Each on an emptied outbox, as the embedded
        # default keeps it (its drain runs every 0.2 s; here nothing drains, and the runs above left
        # ~400 MB behind).
        empty_outbox(env)
        half_single, half_single_bare = tails_side_by_side(
            f"{BASE}/api/events", f"{BASE}/bench/parse", results["single"]["ours"][0] / 2, s, r, body=single, key=key
        )
        empty_outbox(env)
        half_click, half_click_bare = tails_side_by_side(
            f"{BASE}/c/{code}", f"{BASE}/bench/redirect/{code}", results["click"]["ours"][0] / 2, s, r
        )
        memory_kb = []
        for pid in subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split():
            status = Path(f"/proc/{pid}/status").read_text()
            memory_kb.append(int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        if args.only == "segment":
            shutil.rmtree(work, ignore_errors=True)

    consumer = json.loads(manage_shell(env, CONSUMER_BENCH))
    tails = {"single": (half_single, half_single_bare), "click": (half_click, half_click_bare)}
    write_report(args, results, tails, memory_kb, consumer)
    shutil.rmtree(work, ignore_errors=True)


CONSUMER_BENCH = """
import itertools, json, time, uuid, msgspec
from apps_registry.keys import ApiKeyPrincipal
from benchmarks.run import event
from core import clickhouse
from events.bus import get_bus
from events.bus.outbox import unpacked
from events.bus.topics import EVENTS
from events.consumer.runner import TopicConsumer, consumer_group
from events.ingestion import services as ingestion
from events.models import OutboxMessage
from events.rows import EventRow
# wrk repeats one body (the same event ids), so the consumer gets 100k fresh events of its own.
OutboxMessage.objects.filter(topic=EVENTS).delete()
principal = ApiKeyPrincipal(uuid.uuid4(), uuid.uuid4(), 'off', 1)
for _ in range(1000):
    body = json.dumps({'events': [event(i) for i in range(100)]}).encode()
    ingestion.ingest_events(principal=principal, events=ingestion.decode_events(body), ip='203.0.113.5', user_agent='bench')
payloads = OutboxMessage.objects.filter(topic=EVENTS).order_by('id').values_list('payload', flat=True)
lines = list(itertools.islice((line for p in payloads.iterator() for line in unpacked(bytes(p)).split(b'\\n')), 100000))
columns = list(EventRow.__struct_fields__)
# Two raw baselines into the very table the consumer writes (its indexes included), under another
# app id so that the consumer does not take them for its own rows: the same rows from Python dicts (encoded on the way, the baseline before the consumer learnt to
# pass its JSON lines through), and as the JSON lines they are on the bus (nothing left to do but
# ClickHouse's own insert). The consumer's ratio is taken against the faster one.
app_text = str(principal.app_id).encode()
raw_rates = {}
for name in ('dicts', 'lines'):
    other = str(uuid.uuid4())
    raw_lines = [line.replace(app_text, other.encode()) for line in lines]
    raw_rows = [msgspec.json.decode(line, type=EventRow) for line in raw_lines]
    raw_dicts = [msgspec.structs.asdict(row) for row in raw_rows]
    started = time.perf_counter()
    for i in range(0, len(raw_rows), 10000):
        batch = {'rows': raw_dicts[i:i + 10000]} if name == 'dicts' else {'rows': raw_rows[i:i + 10000], 'encoded': raw_lines[i:i + 10000]}
        clickhouse.insert('events', columns=columns, tag='bench.raw', unique=True, **batch)
    raw_rates[name] = len(raw_rows) / (time.perf_counter() - started)
# Every message is on the bus before the drain starts: no waiting for more once it is empty.
consumer = TopicConsumer(get_bus().subscribe(EVENTS, consumer_group(EVENTS)), EVENTS, batch_size=200, max_wait=0)
started = time.perf_counter()
consumer.drain(max_seconds=900)
elapsed = time.perf_counter() - started
stored = clickhouse.execute('SELECT count() FROM events WHERE app_id = {a:UUID}', {'a': principal.app_id}, tag='bench').scalar()
print(json.dumps({"stored": stored, "rate": stored / elapsed, "raw_rate": max(raw_rates.values()), "raw_dicts_rate": raw_rates['dicts']}))
"""


def write_report(args, results, tails, memory_kb, consumer) -> None:
    (half_single, half_single_bare), (half_click, half_click_bare) = tails["single"], tails["click"]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    batch, single, click, segment = results["batch"], results["single"], results["click"], results["segment"]
    rows = [
        ("100-event batches, bare parse-only", batch["bare"], None, ""),
        ("100-event batches, POST /api/events (outbox, durable)", batch["ours"], batch["ratio"], "≥ 0.5"),
        ("single event, bare parse-only", single["bare"], None, ""),
        ("single event, POST /api/events", single["ours"], single["ratio"], "≥ 0.6"),
        ("GET bare redirect", click["bare"], None, ""),
        ("GET /c/<code> click redirect", click["ours"], click["ratio"], "≥ 0.7"),
        ("100-event batches, POST /api/events (the yardstick of the next row)", segment["bare"], None, ""),
        (
            "100-event Segment batches, POST /v1/batch (ratio to /api/events)",
            segment["ours"],
            segment["ratio"],
            "≥ 0.8",
        ),
    ]
    lines = [
        "# Benchmarks",
        "",
        f"Command: `make bench` (`python -m benchmarks.run --seconds {args.seconds} --connections {args.connections} "
        f"--rounds {args.rounds}`)",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. Machine: {os.cpu_count()} cores ({cpu}), "
        f"{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB RAM.",
        "",
        "Server: gunicorn, 1 sync worker (the embedded default is one process: chdb and SQLite have one writer),",
        "pinned to core 0 (`taskset -c 0`); SQLite outbox as the",
        "durable bus, each request's events committed before 202). Load pinned to core 1: wrk (1 thread, "
        f"{args.connections} connections) for the maximum rates, ours and the bare endpoint taking turns in "
        f"{args.rounds} rounds of {rate_turn(args.seconds, args.rounds)} s each (requests/s and p99: the median "
        "of the rounds; ratio: the median of the rounds' ratios, so a neighbour's load on this shared machine "
        "hits both sides of a ratio alike); for the tails an open-loop",
        "generator (`events/benchmarks/openloop.py`: requests leave on schedule, each on its own connection,",
        "so a slow response never holds back the next) at half the maximum rate, ours and the bare endpoint",
        f"taking turns, median p99 of {args.rounds} rounds of {tail_turn(args.seconds)} s each.",
        "",
        "| measurement | requests/s | events/s | p99 ms (saturated) | ratio to bare | target |",
        "|---|---|---|---|---|---|",
    ]
    for name, (rps, p99), rel, target in rows:
        per = 100 if "100-event" in name else 1
        met = "" if rel is None else (f"{rel:.2f} {'✅' if rel >= float(target[2:]) else '❌'}")
        lines.append(f"| {name} | {rps:,.0f} | {rps * per:,.0f} | {p99:.1f} | {met} | {target} |")
    lines += [
        "",
        f"p99 at half the maximum rate (open loop): single event {half_single:.1f} ms "
        f"(target ≤ 10 ms {'✅' if half_single <= 10 else '❌'}; the bare parse endpoint at the same rate: "
        f"{half_single_bare:.1f} ms), click redirect {half_click:.1f} ms (target ≤ 5 ms "
        f"{'✅' if half_click <= 5 else '❌'}; the bare redirect at the same rate: {half_click_bare:.1f} ms).",
        "",
        f"Consumer into ClickHouse (chdb), outbox -> events, 100-event messages: {consumer['stored']:,} events at "
        f"{consumer['rate']:,.0f} events/s; a raw insert of the same rows into the same table (10k-row batches, under another app id) ran at "
        f"{consumer['raw_rate']:,.0f} rows/s as the JSON lines they are on the bus "
        f"({consumer['raw_dicts_rate']:,.0f} rows/s from Python dicts): ratio {consumer['rate'] / consumer['raw_rate']:.2f} "
        f"(targets ≥ 100k events/s {'✅' if consumer['rate'] >= 100_000 else '❌'}, ≥ 0.8 x raw "
        f"{'✅' if consumer['rate'] >= 0.8 * consumer['raw_rate'] else '❌'}).",
        "",
        f"Peak memory (VmHWM) of the web workers under this load: {', '.join(f'{kb / 1024:.0f} MiB' for kb in memory_kb)}.",
    ]
    markdown.write_head(lines, Path(args.output))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
