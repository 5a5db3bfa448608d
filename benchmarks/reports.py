"""Report query latency (issue #17): every report selector of ``dashboard/analytics.py`` (and the older
``dashboard/selectors.py`` ones of the seed API) on generated data, cold and warm, p50/p95, peak
memory. Writes the "Reports" section of BENCHMARKS.md ("Reports at N events" for another size).

``python -m benchmarks.reports --events 10000000`` (``make bench``); ``--events 100000000`` is the
separate 100M step. The data: one app, 90 days, N events (N/10 devices, each installing once; sessions
and purchases, a ninth of the other events, in USD and EUR, in the week after the install), 50 campaigns
under 5 media sources (3 ad sets of 2 ads each per campaign), clicks before 70 % of the installs (a
second, earlier click before a third of those: multi-touch paths), an impression before half of them;
ios/android and 8 countries. Installs are attributed by the real engine (``attribution_history``), so
the attributions table holds what a recompute writes.

Cold: a new process per query and run (Django set up, chdb opened on the data directory, nothing read
before: ClickHouse's mark and uncompressed caches empty), the query timed once; the OS page cache is
not dropped (a shared machine, no root). Warm: one process, each query run once untimed, then
``--warm`` times (fewer when a query takes longer than ``--budget-seconds`` in total, at least 3).
Peak memory: the largest RSS (``ru_maxrss``) of any measuring process, and of the generator.

Adding a query is one line in ``QUERIES``: a name, the callable ``(app, filters) -> anything``, and
whether the report takes a media source filter (those that do not get the country alone).
"""

import argparse
import datetime as dt
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import embedded, markdown

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SECTION = "Reports"
EMAIL, PASSWORD = "bench@example.com", "bench-reports-password-1"
DAYS = 90
BUDGETS_MS = {10_000_000: 100, 100_000_000: 500}
VARIANTS = {
    "30 days": {"days": "30"},
    "30 days, country + source": {"days": "30", "country": "US", "media_source": "meta"},
}


def _analytics():
    from dashboard import analytics

    return analytics


def _selectors():
    from dashboard import selectors

    return selectors


def _cohorts():
    from dashboard import cohorts

    return cohorts


def _funnels():
    from dashboard import funnels

    return funnels


# name -> (callable(app, filters), takes a media source filter)
QUERIES = {
    "overview (+ previous period)": (lambda app, f: _analytics().overview(app=app, filters=f), True),
    "series hour": (lambda app, f: _analytics().series(app=app, filters=f, interval="hour"), False),
    "series day": (lambda app, f: _analytics().series(app=app, filters=f, interval="day"), False),
    "series week": (lambda app, f: _analytics().series(app=app, filters=f, interval="week"), False),
    "campaigns: source": (lambda app, f: _analytics().performance(app=app, filters=f, levels=("source", None)), True),
    "campaigns: campaign": (
        lambda app, f: _analytics().performance(app=app, filters=f, levels=("campaign", None)),
        True,
    ),
    "campaigns: ad set": (lambda app, f: _analytics().performance(app=app, filters=f, levels=("adset", None)), True),
    "campaigns: ad": (lambda app, f: _analytics().performance(app=app, filters=f, levels=("ad", None)), True),
    "models": (lambda app, f: _analytics().model_comparison(app=app, filters=f), True),
    "fraud": (lambda app, f: _analytics().fraud(app=app, filters=f), False),
    "click-to-install": (lambda app, f: _analytics().click_to_install_times(app=app, filters=f), False),
    "campaigns with ROAS D0/D7/D30: campaign": (
        lambda app, f: _cohorts().campaign_performance(app=app, filters=f, levels=("campaign", None)),
        True,
    ),
    "cohorts: day": (lambda app, f: _cohorts().retention(app=app, filters=f, granularity="day", split="none"), True),
    "cohorts: week by source": (
        lambda app, f: _cohorts().retention(app=app, filters=f, granularity="week", split="source"),
        True,
    ),
    "LTV: day, 30 days": (
        lambda app, f: _cohorts().ltv_curves(app=app, filters=f, granularity="day", split="none", horizon=30),
        True,
    ),
    "funnel: install, purchase": (
        lambda app, f: _funnels().funnel(app=app, filters=f, steps=["install", "purchase"], window_days=7),
        True,
    ),
    "funnel: install, purchase by source": (
        lambda app, f: _funnels().funnel(
            app=app, filters=f, steps=["install", "purchase"], window_days=7, split="source"
        ),
        True,
    ),
    "seed API: stats": (
        lambda app, f: _selectors().dashboard_stats(app_id=app.id, since=f.since, until=f.until),
        False,
    ),
    "seed API: events over time": (
        lambda app, f: _selectors().events_over_time(app_id=app.id, since=f.since, until=f.until),
        False,
    ),
    "seed API: sources": (
        lambda app, f: _selectors().attribution_by_source(app_id=app.id, model=f.model, since=f.since, until=f.until),
        False,
    ),
}

GENERATE = [
    """
    INSERT INTO events (app_id, event_id, event_name, timestamp, received_at, device_id, device_ids, user_id,
                        platform, app_version, country, revenue, currency)
    SELECT {app_id:UUID}, generateUUIDv4(number), name, t, t, d, map(if(device % 2 = 0, 'idfa', 'gaid'), d),
           concat('user-', toString(device)), if(device % 2 = 0, 'ios', 'android'), '3.2.0',
           arrayElement(['US', 'DE', 'FR', 'BR', 'JP', 'GB', 'IN', 'CA'], 1 + device % 8),
           if(name = 'purchase', toDecimal64(arrayElement([0.99, 4.99, 9.99, 19.99], 1 + cityHash64(number) % 4), 6),
              toDecimal64(0, 6)),
           if(name = 'purchase', if(device % 4 = 3, 'EUR', 'USD'), '')
    FROM (
        SELECT number, number % {installs:UInt64} AS device, concat('dev', toString(device)) AS d,
               multiIf(number < {installs:UInt64}, 'install', number % 9 = 0, 'purchase', 'session_start') AS name,
               {start:DateTime64(3, 'UTC')}
                 + toIntervalMillisecond(intDiv(device * {period_ms:UInt64}, {installs:UInt64})) AS installed,
               if(number < {installs:UInt64}, installed,
                  installed + toIntervalSecond(cityHash64(number) % greatest(1, least(7 * 86400,
                    dateDiff('second', installed, {now:DateTime64(3, 'UTC')}))))) AS t
        FROM numbers({events:UInt64})
    )
    """,
    # Clicks (70 % of the installs; a third of those with a second, earlier click of another campaign)
    # and impressions (half of the installs), of 50 campaigns under 5 sources, 3 ad sets x 2 ads each.
    """
    INSERT INTO touchpoints (app_id, touch_id, touch_type, timestamp, received_at, origin, media_source, campaign,
                             adset, ad, link_code, platform, device_id, device_ids)
    SELECT {app_id:UUID}, generateUUIDv4(cityHash64(number, kind0)), if(kind0 = 'click2', 'click', kind0), t, t, 'link',
           arrayElement(['meta', 'google_ads', 'tiktok', 'unity_ads', 'applovin'], 1 + intDiv(c, 10)),
           concat('campaign_', toString(c)), concat('adset_', toString(c), '_', toString(s % 3)),
           concat('ad_', toString(c), '_', toString(s % 3), '_', toString(intDiv(s, 3) % 2)), 'L1',
           if(number % 2 = 0, 'ios', 'android'), d, map(if(number % 2 = 0, 'idfa', 'gaid'), d)
    FROM (
        SELECT number, kind0, concat('dev', toString(number)) AS d,
               (cityHash64(number, kind0) % 50) AS c, cityHash64(number, kind0, 'ad') AS s,
               {start:DateTime64(3, 'UTC')} + toIntervalMillisecond(intDiv(number * {period_ms:UInt64},
                 {installs:UInt64}))
                 - toIntervalSecond(if(kind0 = 'click2', 7200, 0) + 60 + cityHash64(number, kind0) % 7140) AS t
        FROM numbers({installs:UInt64})
        ARRAY JOIN arrayFilter(k -> (k = 'click' AND number % 10 >= 3) OR (k = 'click2' AND number % 10 >= 7)
                                    OR (k = 'impression' AND number % 2 = 0),
                               ['click', 'click2', 'impression']) AS kind0
    )
    """,
]


def _env(work: Path) -> dict:
    return embedded.environment(
        work,
        DEMO_ADMIN_EMAIL=EMAIL,
        DEMO_ADMIN_PASSWORD=PASSWORD,
        CLICKHOUSE_QUERY_TIMEOUT_SECONDS="3600",  # the slowest query is measured, not cut off
    )


def _run(cmd: list[str], env: dict, **kwargs) -> str:
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)[:200]} exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def _in_process(env: dict, call: str, timeout: float = 7200) -> dict:
    code = f"import json; from benchmarks import reports; print(json.dumps(reports.{call}))"
    return json.loads(_run([PYTHON, "-c", code], env, timeout=timeout).strip().splitlines()[-1])


def _peak_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def generate(events: int) -> dict:
    """Runs in its own process (chdb: one process per data directory)."""
    from core import clickhouse

    _, _, seconds = embedded.generated_app(
        owner_email=EMAIL,
        name="Bench reports app",
        days=DAYS,
        events=events,
        statements=GENERATE,
        tables=("events", "touchpoints"),
    )
    counts = {
        table: clickhouse.execute(f"SELECT count() FROM {table}", tag="bench_count").scalar()
        for table in ("events", "touchpoints", "attributions")
    }
    return {"events": events, "rows": counts, **seconds, "peak_mib": _peak_mib()}


def refresh() -> dict:
    """Runs in its own process: the refresh of every app's attribution pre-aggregate (``manage.py
    refresh_reports --all``, what the background refresh does), its time and the process's peak RSS."""
    import django

    django.setup()
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("refresh_reports", all=True, stdout=io.StringIO())
    return {"refresh_seconds": round(time.perf_counter() - started, 1), "refresh_peak_mib": _peak_mib()}


def _setup():
    import django

    django.setup()
    from apps_registry.models import App
    from apps_registry.services import settings_current
    from dashboard.filters import report_filters

    app = App.objects.get(name="Bench reports app")
    model = settings_current(app=app).default_model
    filters = {
        variant: report_filters(data=data, default_model=model, time_zone=app.timezone)
        for variant, data in VARIANTS.items()
    }
    return app, filters


def _call(app, filters, name: str, variant: str) -> float:
    function, takes_source = QUERIES[name]
    chosen = filters[variant]
    if not takes_source and chosen.media_source:
        from dataclasses import replace

        chosen = replace(chosen, media_source="")
    started = time.perf_counter()
    function(app, chosen)
    return (time.perf_counter() - started) * 1000


def cold(name: str, variant: str) -> dict:
    """One query, once, first thing after opening the store."""
    app, filters = _setup()
    from core import clickhouse

    clickhouse.execute("SELECT 1", tag="bench_open")  # opening chdb is not the query's time
    return {"ms": _call(app, filters, name, variant), "peak_mib": _peak_mib()}


def warm(names: list[str], runs: int, budget_seconds: float) -> dict:
    app, filters = _setup()
    times = {}
    for name in names:
        for variant in VARIANTS:
            first = _call(app, filters, name, variant)  # untimed warm-up
            count = max(3, min(runs, int(budget_seconds * 1000 / max(first, 1))))
            times[f"{name}|{variant}"] = [_call(app, filters, name, variant) for _ in range(count)]
    return {"times": times, "peak_mib": _peak_mib()}


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def measure(env: dict, args) -> dict:
    names = [name for name in QUERIES if not args.only or any(part in name for part in args.only)]
    loads = [load_average()]
    cold_times: dict[str, list[float]] = {}
    peaks = []
    for _ in range(args.cold):
        for name in names:
            for variant in VARIANTS:
                result = _in_process(env, f"cold({name!r}, {variant!r})")
                cold_times.setdefault(f"{name}|{variant}", []).append(result["ms"])
                peaks.append(result["peak_mib"])
    loads.append(load_average())
    warm_result = _in_process(env, f"warm({names!r}, {args.warm}, {args.budget_seconds})")
    loads.append(load_average())
    peaks.append(warm_result["peak_mib"])
    return {"cold": cold_times, "warm": warm_result["times"], "peak_mib": max(peaks), "loads": loads}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--cold", type=int, default=3, help="Cold runs per query (each a new process).")
    parser.add_argument("--warm", type=int, default=20, help="Warm runs per query.")
    parser.add_argument("--budget-seconds", type=float, default=30, help="Warm time per query before fewer runs.")
    parser.add_argument("--only", nargs="*", help="Measure the queries whose name contains one of these.")
    parser.add_argument("--label", default="", help="What code was measured (shown in the section).")
    parser.add_argument("--output", default=str(markdown.PATH))
    parser.add_argument(
        "--keep",
        help="Keep the generated data in this directory; when it holds data, reuse it (the pre-aggregates "
        "rebuilt from it first: rebuild_report_aggregates --check, timed).",
    )
    parser.add_argument(
        "--baseline",
        help="A BENCHMARKS.md written by an earlier run of this benchmark on the same data (e.g. the code "
        "before a change): its Reports section is quoted under this one's, for before/after.",
    )
    args = parser.parse_args()

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ump-reports-"))
    env = _env(work)
    reuse = args.keep and (work / "generated.json").exists()
    _run([PYTHON, "manage.py", "migrate", "-v0"], env)
    _run([PYTHON, "manage.py", "migrate_clickhouse"], env)
    if reuse:
        data = json.loads((work / "generated.json").read_text())
        started = time.perf_counter()
        _run([PYTHON, "manage.py", "rebuild_report_aggregates", "--check"], env, timeout=4 * 3600)
        data["rebuild_seconds"] = round(time.perf_counter() - started, 1)
        data["rebuild_load"] = load_average()
    else:
        _run([PYTHON, "manage.py", "ensure_admin"], env)
        data = {**_in_process(env, f"generate({args.events})", timeout=4 * 3600), "load": load_average()}
        (work / "generated.json").write_text(json.dumps(data))
    if not reuse:  # the generator's last writes must be older than the margin for a refresh to count them
        time.sleep(float(env.get("REPORT_CHANGES_MARGIN_SECONDS", 60)) + 1)
    data.update(_in_process(env, "refresh()", timeout=4 * 3600))
    data["refresh_load"] = load_average()
    try:
        result = measure(env, args)
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    write_section(Path(args.output), args, data, result)


def table(data: dict, result: dict, budget: int | None) -> list[str]:
    lines = [
        "| query | filters | cold p50 ms | cold p95 ms | warm p50 ms | warm p95 ms | warm runs |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, warm_times in result["warm"].items():
        name, variant = key.split("|")
        cold_times = result["cold"].get(key, [])
        worst = max(p95(warm_times), p95(cold_times) if cold_times else 0)
        mark = "" if budget is None else (" ✅" if worst <= budget else " ❌")
        cold_cells = f"{statistics.median(cold_times):.0f} | {p95(cold_times):.0f}" if cold_times else "— | —"
        lines.append(
            f"| {name} | {variant} | {cold_cells} | {statistics.median(warm_times):.0f} | "
            f"{p95(warm_times):.0f}{mark} | {len(warm_times)} |"
        )
    return lines


def section(events: int) -> str:
    """The 10M run (``make bench``) is "Reports"; another size has its own section."""
    return SECTION if events == 10_000_000 else f"{SECTION} at {events:,} events"


def write_section(output: Path, args, data: dict, result: dict) -> None:
    budget = BUDGETS_MS.get(args.events)
    command = f"python -m benchmarks.reports --events {args.events}"
    rows = ", ".join(f"{table_name} {count:,}" for table_name, count in data["rows"].items())
    lines = [
        "",
        f"Command: `{command}`{' (part of `make bench`)' if args.events == 10_000_000 else ''}. "
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. Machine: {os.cpu_count()} cores, shared; "
        f"the embedded engine (chdb). Code: {args.label or 'this commit'}.",
        f"Data: one app, {DAYS} days, 50 campaigns under 5 sources; rows {rows}; generated in "
        f"{data['generate_seconds']} s, attributed by the real engine in {data['attribute_seconds']} s "
        f"(load average then {data['load']}; generator peak RSS {data['peak_mib']:,} MiB)"
        + (
            f"; the data reused, its pre-aggregates rebuilt from the raw events (`manage.py "
            f"rebuild_report_aggregates --check`) in {data['rebuild_seconds']} s (load average {data['rebuild_load']})."
            if "rebuild_seconds" in data
            else "."
        )
        + f" The attribution side's pre-aggregate written (`manage.py refresh_reports --all`, what the "
        f"background refresh does) in {data['refresh_seconds']} s (peak RSS {data['refresh_peak_mib']:,} MiB; "
        f"load average {data['refresh_load']}).",
        "Cold: a new process per query and run, chdb just opened (its caches empty; the OS page cache not "
        f"dropped), {args.cold} run(s); warm: one process, after one untimed run, up to {args.warm} runs "
        f"(at least 3; fewer when a query would take over {args.budget_seconds:.0f} s). "
        f"Load average (1/5/15 min) before cold, before warm, after: {' | '.join(result['loads'])}.",
        f"Peak RSS of the measuring processes: {result['peak_mib']:,} MiB."
        + (f" Budget: p95 ≤ {budget} ms cold and warm." if budget else ""),
        "",
        *table(data, result, budget),
    ]
    if args.baseline:
        before = markdown.read_section(section(args.events), Path(args.baseline))
        lines += [
            "",
            "Before, on the same data (an earlier run of this benchmark):",
            "",
            *(f"> {line}" for line in before),
        ]
    markdown.write_section(section(args.events), lines, output)


if __name__ == "__main__":
    main()
