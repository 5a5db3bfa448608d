"""Page budgets (issue #18): server time per page, the critical path's bytes, the ECharts file's bytes
and caching, first contentful paint in headless Chromium, and Lighthouse. Writes the "Pages" section
of BENCHMARKS.md.

``python -m benchmarks.pages`` runs against the demo data (``seed_demo``, as ``make run`` has it);
``--events N`` generates N events of one app inside ClickHouse instead (installs, sessions and
purchases over 28 days, clicks for 70 % of the installs) and attributes them, for the budget's 10M.

The server runs as in production but on the embedded default: gunicorn, one process, DEBUG off, the
static files from collectstatic (hashed names, gzip and brotli copies, immutable caching), the web
process's own jobs storing and attributing what seed_demo sent. Server time is each page's wall time
seen from a client on the same machine, requests one after another, pages taking turns. The critical
path is what the browser must have before it can paint: the HTML (its gzip size: the app leaves HTML
compression to the proxy in front), the stylesheets and any script without defer or async (served
compressed by the app). FCP is read from the browser's paint timing, each page in a fresh browser
context (nothing cached), the median of the runs. Lighthouse (npm, pinned in
benchmarks/lighthouse/package.json) drives Debian's Chromium with the session cookie.
"""

import argparse
import datetime as dt
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from benchmarks import embedded, markdown

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
PORT = 18510
BASE = f"http://127.0.0.1:{PORT}"
SECTION = "Pages"
EMAIL, PASSWORD = "bench@example.com", "bench-pages-password-1"
LIGHTHOUSE_DIR = ROOT / "benchmarks" / "lighthouse"
# Lighthouse asks to be run again when it fails to record a page load's trace (NO_NAVSTART): it may.
LIGHTHOUSE_ATTEMPTS = 3
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
BUDGETS = {"server_p95_ms": 300, "critical_kb": 60, "echarts_kb": 210, "fcp_ms": 1000, "lighthouse": 90}
# Each app page (path under /apps/<id>/), the overview's filters too: {event_id} is a conversion's.
PAGES = [
    "overview",
    "overview?days=30&model=linear",
    "conversions?event_id={event_id}",
    "live",
    "links",
    "links/new",
    "costs",
    "settings",
    "settings/edit",
    "campaigns",
    "campaigns?level=ad&sort=-roas",
    "models",
    "fraud",
    "cohorts",
    "funnels?steps=install&steps=purchase",
]
# The pages Lighthouse audits (indices in PAGES): the overview, the links, and the report pages.
AUDITED = (0, 4, 9, 13, 14)

GENERATE = [
    # Installs (the first N/10 numbers: one per device) over the period, then sessions and purchases of
    # those devices in the week after their install (or the time since, for the latest installs).
    """
    INSERT INTO events (app_id, event_id, event_name, timestamp, received_at, device_id, device_ids, user_id,
                        platform, app_version, country, revenue, currency)
    SELECT {app_id:UUID}, generateUUIDv4(number), name, t, t, d, map('idfa', d), concat('user-', toString(device)),
           'ios', '3.2.0', arrayElement(['US', 'DE', 'FR', 'BR', 'JP'], 1 + device % 5),
           if(name = 'purchase', toDecimal64(arrayElement([0.99, 4.99, 9.99, 19.99], 1 + cityHash64(number) % 4), 6),
              toDecimal64(0, 6)),
           if(name = 'purchase', 'USD', '')
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
    # One click 1 min to 2 h before 70 % of the installs, from six sources and three campaigns.
    """
    INSERT INTO touchpoints (app_id, touch_id, touch_type, timestamp, received_at, origin, media_source, campaign,
                             link_code, device_id, device_ids)
    SELECT {app_id:UUID}, generateUUIDv4(number), 'click', t, t, 'link',
           arrayElement(['meta', 'google_ads', 'tiktok', 'unity_ads', 'shady_network', 'injector_net'],
                        1 + number % 6),
           arrayElement(['spring_sale', 'retargeting', 'brand'], 1 + intDiv(number, 6) % 3), 'L1', d, map('idfa', d)
    FROM (
        SELECT number, concat('dev', toString(number)) AS d,
               {start:DateTime64(3, 'UTC')} + toIntervalMillisecond(intDiv(number * {period_ms:UInt64},
                 {installs:UInt64})) - toIntervalSecond(60 + cityHash64(number) % 7140) AS t
        FROM numbers({installs:UInt64})
        WHERE number % 10 >= 3
    )
    """,
]


def run(cmd: list[str], env: dict, **kwargs) -> str:
    return subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True, **kwargs).stdout


def generate(events: int) -> dict:
    """Runs in its own process before the server starts (chdb: one process per data directory)."""
    from core import clickhouse

    _, params, seconds = embedded.generated_app(
        owner_email=EMAIL, name="Bench app", days=28, events=events, statements=GENERATE, tables=("events",)
    )
    latest_install = clickhouse.execute(
        "SELECT event_id FROM events WHERE app_id = {app_id:UUID} AND event_name = 'install' "
        "ORDER BY timestamp DESC LIMIT 1",
        params,
        tag="bench_pages_conversion",
    ).scalar()
    return {"conversion_id": str(latest_install), "events": events, **seconds}


class Server:
    def __init__(self, env: dict):
        self.process = subprocess.Popen(
            [
                *("taskset", "-c", "0"),
                str(Path(PYTHON).parent / "gunicorn"),
                "attribution.wsgi:application",
                *("-b", f"127.0.0.1:{PORT}", "-w", "1", "--threads", "4", "--worker-tmp-dir", "/dev/shm"),
                *("--log-level", "warning"),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(150):
            try:
                if requests.get(f"{BASE}/health/live", timeout=10).ok:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def signed_in() -> requests.Session:
    session = requests.Session()
    session.get(f"{BASE}/sign-in")
    answer = session.post(
        f"{BASE}/sign-in",
        {"email": EMAIL, "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{BASE}/sign-in"},
    )
    answer.raise_for_status()
    assert "sessionid" in session.cookies, "the bench user could not sign in"
    return session


def first_app(session: requests.Session) -> str:
    return re.search(r'href="/apps/([0-9a-f-]{36})/"', session.get(f"{BASE}/apps/").text).group(1)


def wait_for_attribution(session: requests.Session, app_id: str, timeout: float = 600) -> None:
    """Until the web process has stored and attributed what seed_demo sent: installs stop changing."""
    deadline, seen = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        stats = session.get(f"{BASE}/api/dashboard/stats", params={"app_id": app_id, "days": 30}).json()
        seen.append(stats["installs"])
        if len(seen) >= 3 and seen[-1] > 0 and seen[-1] == seen[-2] == seen[-3]:
            return
        time.sleep(3)
    raise RuntimeError(f"attribution did not settle within {timeout} s: installs {seen[-5:]}")


def a_conversion(session: requests.Session, app_id: str) -> str:
    live = session.get(f"{BASE}/apps/{app_id}/live").text
    found = re.search(r"<strong>install</strong>.*?conversions\?event_id=([0-9a-f-]{36})", live, re.DOTALL)
    if found is None:
        raise RuntimeError("no install on the live events page to explain")
    return found.group(1)


def server_times(session: requests.Session, urls: list[str], requests_per_page: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {url: [] for url in urls}
    for url in urls:  # warm-up: templates, caches, ClickHouse's first reads
        session.get(url).raise_for_status()
    for _ in range(requests_per_page):
        for url in urls:
            started = time.perf_counter()
            answer = session.get(url, allow_redirects=False)  # the page itself (/apps/ with one app redirects)
            times[url].append((time.perf_counter() - started) * 1000)
            answer.raise_for_status()
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def compressed_size(url: str, encoding: str = "gzip") -> tuple[int, dict]:
    answer = requests.get(url, headers={"Accept-Encoding": encoding}, stream=True, timeout=30)
    answer.raise_for_status()
    body = answer.raw.read(decode_content=False)
    return len(body), answer.headers


def critical_path(session: requests.Session, url: str) -> dict:
    """The bytes the browser needs before its first paint, and what the page loads later."""
    html = session.get(url).text
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    scripts = re.findall(r"<script src=\"([^\"]+)\"([^>]*)>", html)
    blocking = [src for src, attributes in scripts if "defer" not in attributes and "async" not in attributes]
    parts = {"html": len(gzip.compress(html.encode()))}
    for src in styles + blocking:
        parts[src], _ = compressed_size(BASE + src)
    return {
        "bytes": sum(parts.values()),
        "parts": parts,
        "deferred": [src for src, attributes in scripts if "defer" in attributes],
        "blocking": blocking,
    }


def echarts_file(session: requests.Session, overview: str) -> dict:
    html = session.get(overview).text
    src, attributes = re.search(r'<script src="([^"]*echarts[^"]*)"([^>]*)>', html).groups()
    gzip_bytes, headers = compressed_size(BASE + src, "gzip")
    brotli_bytes, _ = compressed_size(BASE + src, "br")
    return {
        "src": src,
        "defer": "defer" in attributes,
        "gzip": gzip_bytes,
        "gzip_encoding": headers.get("Content-Encoding", ""),
        "brotli": brotli_bytes,
        "cache_control": headers.get("Cache-Control", ""),
    }


def browser_timings(cookie: str, urls: list[str], runs: int) -> dict:
    from playwright.sync_api import sync_playwright

    fcp: dict[str, list[float]] = {url: [] for url in urls}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS[1:])
        cookies = [{"name": "sessionid", "value": cookie, "url": BASE}]
        for _ in range(runs):
            for url in urls:
                context = browser.new_context()
                context.add_cookies(cookies)
                page = context.new_page()
                page.goto(url, wait_until="load")
                paint = page.evaluate(
                    "() => new Promise(done => new PerformanceObserver((list, observer) => {"
                    " observer.disconnect(); done(list.getEntries()[0].startTime); })"
                    ".observe({type: 'paint', buffered: true}))"
                )
                fcp[url].append(paint)
                context.close()
        # A second page in the same context: the ECharts file must not come from the server again. The
        # browser's network events (DevTools protocol) say where each response came from.
        context = browser.new_context()
        context.add_cookies(cookies)
        page = context.new_page()
        page.goto(urls[0], wait_until="load")
        network = context.new_cdp_session(page)
        network.send("Network.enable")
        second: list[str] = []
        network.on(
            "Network.responseReceived",
            lambda event: (
                "echarts" in event["response"]["url"]
                and second.append("disk cache" if event["response"].get("fromDiskCache") else "server")
            ),
        )
        network.on("Network.requestServedFromCache", lambda event: second.append("memory cache"))
        page.goto(urls[1], wait_until="load")
        browser.close()
    return {"fcp": fcp, "second_page_echarts": second}


def lighthouse(cookie: str, urls: list[str]) -> dict:
    """Lighthouse's performance and accessibility scores, or the reason it could not run."""
    binary = LIGHTHOUSE_DIR / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        if shutil.which("npm") is None:
            return {"error": "npm is not installed"}
        install = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=LIGHTHOUSE_DIR, capture_output=True)
        if install.returncode != 0:
            return {"error": f"npm ci failed: {install.stderr.decode()[-300:]}"}
    scores = {}
    for url, preset in ((url, preset) for url in urls for preset in ("desktop", "mobile")):
        for _ in range(LIGHTHOUSE_ATTEMPTS):
            answer = subprocess.run(
                [
                    str(binary),
                    url,
                    *(["--preset=desktop"] if preset == "desktop" else []),
                    "--output=json",
                    "--quiet",
                    "--only-categories=performance,accessibility",
                    f"--chrome-flags={' '.join(CHROMIUM_FLAGS)}",
                    f"--extra-headers={json.dumps({'Cookie': f'sessionid={cookie}'})}",
                ],
                env={**os.environ, "CHROME_PATH": CHROMIUM},
                capture_output=True,
                text=True,
                timeout=300,
            )
            if answer.returncode == 0:
                break
        else:
            return {
                "error": f"lighthouse exited {answer.returncode} {LIGHTHOUSE_ATTEMPTS} times: {answer.stderr[-300:]}"
            }
        report = json.loads(answer.stdout)
        scores[(url, preset)] = {
            name: round(report["categories"][name]["score"] * 100) for name in ("performance", "accessibility")
        } | {
            "metrics": {
                name: report["audits"][audit]["displayValue"]
                for name, audit in (
                    ("FCP", "first-contentful-paint"),
                    ("LCP", "largest-contentful-paint"),
                    ("TBT", "total-blocking-time"),
                    ("CLS", "cumulative-layout-shift"),
                )
            },
            "failed_audits": sorted(
                key
                for key, audit in report["audits"].items()
                if audit.get("score") is not None and audit["score"] < 0.9 and audit["scoreDisplayMode"] == "binary"
            ),
        }
    return {"scores": scores}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=0, help="Generate N events of one app (0: seed_demo's data).")
    parser.add_argument("--installs", type=int, default=1500, help="seed_demo's installs per app (without --events).")
    parser.add_argument("--requests", type=int, default=40, help="Requests per page for the server times.")
    parser.add_argument("--fcp-runs", type=int, default=5)
    parser.add_argument("--no-lighthouse", action="store_true")
    parser.add_argument("--output", default=str(markdown.PATH))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ump-pages-"))
    env = embedded.environment(
        work,
        DEMO_ADMIN_EMAIL=EMAIL,
        DEMO_ADMIN_PASSWORD=PASSWORD,
        ATTRIBUTION_SETTLE_SECONDS="1",
        ATTRIBUTION_INTERVAL_SECONDS="2",
        API_RATE_LIMIT_PER_USER="1000000",
    )
    run([PYTHON, "manage.py", "migrate", "-v0"], env)
    run([PYTHON, "manage.py", "migrate_clickhouse"], env)
    run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"], env)
    run([PYTHON, "manage.py", "ensure_admin"], env)
    if args.events:
        code = f"import json; from benchmarks import pages; print(json.dumps(pages.generate({args.events})))"
        data = json.loads(run([PYTHON, "-c", code], env, timeout=7200).strip().splitlines()[-1])
    else:
        run([PYTHON, "manage.py", "seed_demo", "--installs", str(args.installs)], env, timeout=3600)
        data = {"demo_installs_per_app": args.installs}
    if not args.events:  # the web process's own jobs store and attribute what seed_demo sent
        server = Server(env)
        try:
            session = signed_in()
            wait_for_attribution(session, first_app(session))
        finally:
            server.stop()
    # The reports' pre-aggregate of attributions, as the background refresh writes it: the last writes
    # must be older than the margin for the refresh to count them.
    time.sleep(float(env.get("REPORT_CHANGES_MARGIN_SECONDS", 60)) + 1)
    run([PYTHON, "manage.py", "refresh_reports", "--all"], env, timeout=7200)
    try:
        server = Server({**env, "RUN_BACKGROUND_JOBS": "0"})  # measured alone: no job competes for the cores
    except RuntimeError:
        shutil.rmtree(work, ignore_errors=True)
        raise
    try:
        session = signed_in()
        app_id = first_app(session)
        event_id = data.get("conversion_id") or a_conversion(session, app_id)
        urls = [f"{BASE}/apps/{app_id}/{page.format(event_id=event_id)}" for page in PAGES]
        urls.append(f"{BASE}/apps/")
        times = server_times(session, urls, args.requests)
        paths = {url: url.removeprefix(BASE).replace(app_id, "<app>").replace(event_id, "<event id>") for url in urls}
        critical = {url: critical_path(session, url) for url in urls}
        critical[f"{BASE}/sign-in"] = critical_path(requests.Session(), f"{BASE}/sign-in")
        paths[f"{BASE}/sign-in"] = "/sign-in"
        echarts = echarts_file(session, urls[0])
        cookie = session.cookies["sessionid"]
        browser = browser_timings(cookie, [urls[0], urls[2], urls[4], urls[7]], args.fcp_runs)
        audits = (
            {"error": "skipped (--no-lighthouse)"}
            if args.no_lighthouse
            else lighthouse(cookie, [urls[n] for n in AUDITED])
        )
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    write_section(Path(args.output), args, data, times, paths, critical, echarts, browser, audits)


def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def write_section(output, args, data, times, paths, critical, echarts, browser, audits) -> None:
    command = "python -m benchmarks.pages" + (f" --events {args.events}" if args.events else "")
    source = (
        f"{data['events']:,} generated events of one app (generated in {data['generate_seconds']} s, "
        f"attributed in {data['attribute_seconds']} s)"
        if args.events
        else f"the demo data: seed_demo --installs {data['demo_installs_per_app']} (two apps, through the real endpoints)"
    )
    lines = [
        "",
        f"Command: `{command}` (part of `make bench`). Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. "
        f"Machine: {os.cpu_count()} cores. Data: {source}; the reports' pre-aggregate of attributions "
        "refreshed (`manage.py refresh_reports --all`) before the server starts.",
        "Server: gunicorn, one process (4 threads) pinned to core 0, DEBUG off, static files from collectstatic "
        "(hashed, gzip + brotli, immutable), the embedded default (SQLite, chdb).",
        "",
        f"Server time: {args.requests} requests per page, one after another, pages taking turns, after one warm-up "
        "request each; wall time seen by a client on the same machine. Critical path: the HTML gzipped "
        "(the app leaves HTML compression to the proxy), every stylesheet and every script without defer/async, "
        "as served compressed by the app.",
        "",
        "| page | p50 ms | p95 ms | critical path gzip bytes |",
        "|---|---|---|---|",
    ]
    worst_p95 = max(p95(values) for values in times.values())
    for url, values in times.items():
        lines.append(
            f"| `{paths[url]}` | {statistics.median(values):.0f} | {p95(values):.0f} {_mark(p95(values) <= 300)} "
            f"| {critical[url]['bytes']:,} |"
        )
    signin = next(url for url in critical if url.endswith("/sign-in"))
    lines.append(f"| `/sign-in` (signed out) | | | {critical[signin]['bytes']:,} |")
    worst_critical = max(entry["bytes"] for entry in critical.values())
    blocking = sorted({src for entry in critical.values() for src in entry["blocking"]})
    deferred = sorted({src for entry in critical.values() for src in entry["deferred"]})
    fcp = {url: statistics.median(values) for url, values in browser["fcp"].items()}
    second = browser["second_page_echarts"]
    lines += [
        "",
        f"* Server time p95, the slowest page: {worst_p95:.0f} ms (budget ≤ {BUDGETS['server_p95_ms']} ms "
        f"{_mark(worst_p95 <= BUDGETS['server_p95_ms'])}).",
        f"* Critical path, the largest page: {worst_critical:,} bytes gzip (budget ≤ 60 KB "
        f"{_mark(worst_critical <= BUDGETS['critical_kb'] * 1000)}); scripts that block the first paint: "
        f"{', '.join(blocking) or 'none'}; deferred: {', '.join(f'`{src}`' for src in deferred)}.",
        f"* ECharts build `{echarts['src']}`: {echarts['gzip']:,} bytes gzip (budget ≤ 210 KB "
        f"{_mark(echarts['gzip'] <= BUDGETS['echarts_kb'] * 1000 and echarts['gzip_encoding'] == 'gzip')}), "
        f"{echarts['brotli']:,} bytes brotli; loaded with defer: {_mark(echarts['defer'])}; "
        f"Cache-Control: `{echarts['cache_control']}` {_mark('immutable' in echarts['cache_control'])}; "
        f"a second page in the same browser took it from its cache: {_mark('server' not in second)} "
        f"(the browser's network events: {', '.join(second) or 'no request at all'}).",
        f"* First contentful paint, headless Chromium on localhost, a fresh context per load, median of "
        f"{args.fcp_runs}: "
        + ", ".join(f"`{paths[url]}` {ms:.0f} ms" for url, ms in fcp.items())
        + f" (budget < 1 s {_mark(max(fcp.values()) < BUDGETS['fcp_ms'])}).",
    ]
    if "scores" in audits:
        lines.append(
            "* Lighthouse 12.8.2 on Debian's Chromium, `--preset=desktop` (the marketer's screen) and its default "
            "mobile emulation (a mid-range phone, 4x slower CPU, slow 4G):"
        )
        for (url, preset), score in audits["scores"].items():
            ok = min(score["performance"], score["accessibility"]) >= BUDGETS["lighthouse"]
            lines.append(
                f"  * `{paths[url]}` {preset}: performance {score['performance']}, accessibility "
                f"{score['accessibility']} (budget ≥ 90 {_mark(ok)}); "
                + ", ".join(f"{name} {value}" for name, value in score["metrics"].items())
                + (f"; failing audits: {', '.join(score['failed_audits'])}" if score["failed_audits"] else "")
                + "."
            )
    else:
        lines.append(f"* Lighthouse: not run here: {audits['error']}.")
    # The demo data's section and the generated data's (the budget's) apart.
    heading = f"{SECTION} at {args.events:,} events" if args.events else SECTION
    markdown.write_section(heading, lines, Path(output))


if __name__ == "__main__":
    main()
