"""Attribution engine benchmark: 1M conversions against 10M touchpoints, every model, in chdb.

``python -m benchmarks.attribution [--conversions N] [--touches N]`` generates the data inside
ClickHouse (INSERT ... SELECT FROM numbers(), in a scratch data directory), then runs the engine over
the whole period in a fresh process — its peak RSS is the engine's — and writes the result into the
"Attribution engine" section of BENCHMARKS.md. A plain window join of the same tables, timed in the
same process, is the yardstick.
"""

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import markdown

ROOT = Path(__file__).resolve().parents[1]
SECTION = "Attribution engine"
START = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
DAYS = 30

GENERATE = [
    # Installs: one per device, spread over the period; every 10th carries a click id.
    """
    INSERT INTO events (app_id, event_id, event_name, timestamp, received_at, device_id, device_ids, attribution)
    SELECT {app_id:UUID}, generateUUIDv4(number), 'install', t, t, d, map('gaid', d),
           if(number % 10 = 0, map('click_id', concat(leftPad(lower(hex(toUInt32(number))), 8, '0'), '000040008000000000000000')), map())
    FROM (
        SELECT number, concat('dev', toString(number)) AS d,
               {start:DateTime64(3, 'UTC')} + toIntervalMillisecond(intDiv(number * {period_ms:UInt64}, {n:UInt64})) AS t
        FROM numbers({n:UInt64})
    )
    """,
    # The touches of converting devices: 0-3 per device, hours to days before the install (some outside
    # the windows), mostly clicks; plus the click-id click of every 10th install, an hour before it.
    """
    INSERT INTO touchpoints (app_id, touch_id, touch_type, timestamp, received_at, media_source, campaign,
                             link_code, device_id, device_ids)
    SELECT {app_id:UUID},
           if(j = 3, toUUID(concat(leftPad(lower(hex(toUInt32(device))), 8, '0'), '-0000-4000-8000-000000000000')),
              generateUUIDv4(number)),
           if(j = 2, 'impression', 'click'),
           t, t, concat('source_', toString(cityHash64(device, j) % 12)), 'c1', 'L1',
           if(j = 3, '', d), if(j = 3, map(), map('gaid', d))
    FROM (
        SELECT number, number % {n:UInt64} AS device, intDiv(number, {n:UInt64}) AS j,
               concat('dev', toString(device)) AS d,
               {start:DateTime64(3, 'UTC')} + toIntervalMillisecond(intDiv(device * {period_ms:UInt64}, {n:UInt64}))
                 - toIntervalSecond(if(j = 3, 3600, 60 + cityHash64(number) % (9 * 86400))) AS t
        FROM numbers({n:UInt64} * 4)
        WHERE j < device % 4 OR (j = 3 AND device % 10 = 0)
    )
    """,
    # Everyone else's clicks and impressions: no device id for most, a device that never converts for some.
    """
    INSERT INTO touchpoints (app_id, touch_id, touch_type, timestamp, received_at, media_source, campaign,
                             link_code, device_id, device_ids)
    SELECT {app_id:UUID}, generateUUIDv4(number), if(number % 5 = 0, 'impression', 'click'), t, t,
           concat('source_', toString(number % 12)), 'c1', 'L1', d, if(d = '', map(), map('gaid', d))
    FROM (
        SELECT number, if(number % 3 = 0, concat('other', toString(number)), '') AS d,
               {start:DateTime64(3, 'UTC')} - toIntervalDay(7)
                 + toIntervalMillisecond(cityHash64(number) % ({period_ms:UInt64} + 7 * 86400000)) AS t
        FROM numbers({remaining:UInt64})
    )
    """,
]

WINDOW_JOIN = """
SELECT count(), sum(age) FROM (
    SELECT dateDiff('second', t.timestamp, e.timestamp) AS age
    FROM events AS e
    INNER JOIN touchpoints AS t ON t.device_id = e.device_id
    WHERE e.app_id = {app_id:UUID} AND t.app_id = {app_id:UUID} AND t.device_id != ''
      AND t.timestamp <= e.timestamp AND t.timestamp >= e.timestamp - INTERVAL 7 DAY
)
"""


def _setup_django(var_dir: Path) -> None:
    os.environ["VAR_DIR"] = str(var_dir)
    for name in ("DATABASE_URL", "CLICKHOUSE_URL", "KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "attribution.settings")
    import django

    django.setup()


def generate(var_dir: Path, conversions: int, touches: int) -> dict:
    _setup_django(var_dir)
    from django.core.management import call_command

    from accounts.models import User
    from apps_registry.models import App
    from core import clickhouse

    call_command("migrate", verbosity=0)
    call_command("migrate_clickhouse", verbosity=0)
    app = App.objects.create(name="bench", owner=User.objects.create_user(email="bench@example.com"))
    params = {"app_id": app.id, "start": START, "period_ms": DAYS * 86_400_000, "n": conversions}
    started = time.perf_counter()
    for statement in GENERATE[:2]:
        clickhouse.execute(statement, params, tag="bench_generate", timeout=3600)
    matched = clickhouse.execute(
        "SELECT count() FROM touchpoints WHERE app_id = {app_id:UUID}", params, tag="bench_count"
    ).scalar()
    clickhouse.execute(
        GENERATE[2], {**params, "remaining": max(0, touches - matched)}, tag="bench_generate", timeout=3600
    )
    counts = {
        table: clickhouse.execute(
            f"SELECT count() FROM {table} WHERE app_id = {{app_id:UUID}}", params, tag="bench_count"
        ).scalar()
        for table in ("events", "touchpoints")
    }
    clickhouse.execute("OPTIMIZE TABLE touchpoints FINAL", tag="bench_optimize", timeout=3600)
    clickhouse.execute("OPTIMIZE TABLE events FINAL", tag="bench_optimize", timeout=3600)
    started_join = time.perf_counter()
    clickhouse.execute(WINDOW_JOIN, params, tag="bench_window_join", timeout=3600)
    return {
        "app_id": str(app.id),
        "generate_seconds": round(started_join - started, 1),
        "window_join_seconds": round(time.perf_counter() - started_join, 2),
        **counts,
    }


def attribute(var_dir: Path, app_id: str) -> dict:
    """Runs in its own process: ru_maxrss is the engine's peak, not the generator's."""
    _setup_django(var_dir)
    from apps_registry.models import App
    from core import clickhouse
    from events.attribution_engine import services

    app = App.objects.get(pk=app_id)
    timings = {}
    started = time.perf_counter()
    run = services.attribution_run(app=app, since=START, until=START + dt.timedelta(days=DAYS), timings=timings)
    total = round(time.perf_counter() - started, 2)
    rows = clickhouse.execute(
        "SELECT model, count(), countIf(match_type != 'organic'), round(sum(arraySum(credits[model]))) "
        "FROM attributions ARRAY JOIN mapKeys(credits) AS model WHERE app_id = {app_id:UUID} "
        "GROUP BY model ORDER BY model",
        {"app_id": app.id},
        tag="bench_results",
    ).rows
    return {
        **{f"{step}_seconds": seconds for step, seconds in timings.items()},
        "total_seconds": total,
        "flooding_sources": run.flooding_sources,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "models": [{"model": m, "conversions": n, "attributed": a, "credit_sum": c} for m, n, a, c in rows],
    }


def write_section(output: Path, command: str, generated: dict, result: dict) -> None:
    total, peak = result["total_seconds"], result["peak_rss_mib"]
    lines = [
        "",
        f"Command: `{command}`",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. Machine: {os.cpu_count()} cores "
        f"({platform.processor() or platform.machine()}), chdb (embedded ClickHouse), one process.",
        "",
        f"Data: {generated['events']:,} installs (conversions) and {generated['touchpoints']:,} touchpoints "
        f"over {DAYS} days, 12 sources; generated in {generated['generate_seconds']} s. Default settings "
        "(click 7 d, view-through 24 h, probabilistic off, re-attribution 90 d).",
        "",
        "| step | seconds |",
        "|---|---|",
        f"| match: conversions, keys, one hash join, windows, candidate arrays -> scratch | {result['match_seconds']} |",
        f"| flooding decision (per-source stats from the scratch rows) | {result['flooding_seconds']} |",
        f"| data-driven removal effects (journeys, transitions, Markov solve) | {result['data_driven_seconds']} |",
        f"| waterfall, paths, credits of all 6 models, INSERT into attributions | {result['write_seconds']} |",
        f"| **total, all models** | **{total}** (target ≤ 10 {'✅' if total <= 10 else '❌'}) |",
        f"| yardstick: a plain 7-day window join of the same tables | {generated['window_join_seconds']} |",
        "",
        f"Peak memory (RSS of the process that ran only the engine): {peak:,} MiB "
        f"(target ≤ 4,096 {'✅' if peak <= 4096 else '❌'}).",
        "",
        "| model | result rows | attributed (not organic) | sum of credits |",
        "|---|---|---|---|",
        *(
            f"| {m['model']} | {m['conversions']:,} | {m['attributed']:,} | {m['credit_sum']:,.0f} |"
            for m in result["models"]
        ),
        "",
    ]
    markdown.write_section(SECTION, lines, output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversions", type=int, default=1_000_000)
    parser.add_argument("--touches", type=int, default=10_000_000)
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--phase", choices=["all", "generate", "attribute"], default="all", help=argparse.SUPPRESS)
    parser.add_argument("--var-dir", help=argparse.SUPPRESS)
    parser.add_argument("--app-id", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "generate":
        print(json.dumps(generate(Path(args.var_dir), args.conversions, args.touches)))
        return
    if args.phase == "attribute":
        print(json.dumps(attribute(Path(args.var_dir), args.app_id)))
        return
    with tempfile.TemporaryDirectory(prefix="attribution-bench-") as scratch:
        base = [sys.executable, "-m", "benchmarks.attribution", "--var-dir", scratch]
        sizes = ["--conversions", str(args.conversions), "--touches", str(args.touches)]
        generated = json.loads(
            subprocess.run(
                [*base, "--phase", "generate", *sizes], check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT
            ).stdout.splitlines()[-1]
        )
        print("generated", generated, flush=True)
        result = json.loads(
            subprocess.run(
                [*base, "--phase", "attribute", "--app-id", generated["app_id"]],
                check=True,
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            ).stdout.splitlines()[-1]
        )
        print("attributed", result, flush=True)
    command = (
        "make bench (python -m benchmarks.attribution"
        + ("" if (args.conversions, args.touches) == (1_000_000, 10_000_000) else f" {' '.join(sizes)}")
        + ")"
    )
    write_section(Path(args.output), command, generated, result)


if __name__ == "__main__":
    main()
