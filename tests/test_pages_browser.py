"""The web app in a real browser: Debian's Chromium, driven by Playwright, against a live server.

A marketer signs in, picks an app and reads the overview (its charts drawn on canvas, with no console
error, its numbers the API's); changes a filter and shares the URL; creates a tracking link and copies
its URL; uploads a cost file with a bad line; a readonly user is refused the analytics; a locked
account cannot sign in. Screenshots of every page, at desktop width and at 375 px, go to
var/screenshots/ (git-ignored) to be looked at.

Chromium missing: the tests skip, or fail under REQUIRE_SERVICES=1 (as in CI).
"""

import datetime as dt
import re
import shutil
import uuid
import zoneinfo

import pytest
from playwright.sync_api import expect, sync_playwright

from core import clickhouse
from events.attribution_engine import services as engine
from tests.attribution_data import EVENT_COLUMNS, TOUCH_COLUMNS, event_rows, touch_rows
from tests.conftest import PROJECT_DIR, service_unavailable
from tests.factories import PASSWORD, AppFactory, UserFactory, grant

pytestmark = pytest.mark.django_db(transaction=True)
SCREENSHOTS = PROJECT_DIR / "var" / "screenshots"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium")
    if executable is None:
        service_unavailable("Chromium", "no chromium on PATH (install it: apt-get install -y chromium)")
    # Playwright's sync API keeps an asyncio loop on this thread; these tests' ORM calls are sync ones.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


class Tab:
    """A browser tab that records every console error and uncaught exception (a CSP violation is one)."""

    def __init__(self, context, base_url: str):
        self.page = context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.base = base_url
        self.errors: list[str] = []
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, path: str):
        response = self.page.goto(self.base + path)
        return response

    def sign_in(self, email: str, password: str = PASSWORD):
        self.open("/")
        self.page.fill("#id_email", email)
        self.page.fill("#id_password", password)
        self.page.click("button[type=submit]")


@pytest.fixture
def tab(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield Tab(context, live_server.url)
    context.close()


def _store_purchases(app_id, purchases: list[dict]) -> None:
    rows = event_rows(app_id, purchases)
    for row, purchase in zip(rows, purchases, strict=True):
        row.update(revenue=purchase["revenue"], currency="USD")
    clickhouse.insert("events", rows, columns=(*EVENT_COLUMNS, "revenue", "currency"), tag="test_events")


def marketing_data(app) -> dict:
    """Installs and purchases of one app: three installs from meta three days ago, two from google_ads
    and one organic in the last hours, attributed by the engine. Returns a conversion's event id."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    touches, installs, purchases = [], [], []
    conversion_id = uuid.uuid4()
    plan = [("meta", 72, 3), ("google_ads", 2, 2), (None, 5, 1)]
    for source, hours_ago, count in plan:
        for n in range(count):
            device = {"idfa": f"{source or 'organic'}-{n}"}
            at = now - dt.timedelta(hours=hours_ago)
            if source:
                touches.append(
                    {
                        "source": source,
                        "campaign": "spring_sale",
                        "at": at - dt.timedelta(minutes=30),
                        "device_ids": device,
                    }
                )
            event_id = conversion_id if (source, n) == ("meta", 0) else uuid.uuid4()
            installs.append(
                {"event_id": event_id, "name": "install", "at": at, "device_ids": device, "user_id": f"u-{source}-{n}"}
            )
            purchases.append(
                {
                    "name": "purchase",
                    "at": at + dt.timedelta(minutes=10),
                    "device_ids": device,
                    "user_id": f"u-{source}-{n}",
                    "revenue": 4.99,
                }
            )
    clickhouse.insert("touchpoints", touch_rows(app.id, touches), columns=TOUCH_COLUMNS, tag="test_touches")
    clickhouse.insert("events", event_rows(app.id, installs), columns=EVENT_COLUMNS, tag="test_events")
    _store_purchases(app.id, purchases)
    engine.attribution_run(app=app, since=now - dt.timedelta(days=4), until=now + dt.timedelta(seconds=1))
    return {"conversion_id": conversion_id}


def daytime_zone() -> str:
    """A time zone where it is day now (06:00 to 22:00): its today holds the installs of the last hours
    of ``marketing_data``, and no day starts while a test runs. The three cover every hour of the year."""
    zones = ("Europe/Berlin", "America/New_York", "Asia/Tokyo")
    return next(name for name in zones if 6 <= dt.datetime.now(zoneinfo.ZoneInfo(name)).hour < 22)


@pytest.fixture
def marketer():
    user = UserFactory(role="user", password=PASSWORD)
    app = AppFactory(name="Puzzle Quest", timezone=daytime_zone(), currency="USD")
    other = AppFactory(name="Fit Tracker")
    for each in (app, other):
        grant(user, each, "view_app", "change_app", "view_analytics")
    return user, app, marketing_data(app)


TILES = ("installs", "revenue", "cost", "roas", "activeUsers", "totalEvents")


def number(value: str) -> float | None:
    return None if value == "" else float(value)


def tiles(tab: Tab) -> dict[str, float | None]:
    return {metric: number(tab.page.get_attribute(f".tile [data-metric={metric}]", "data-value")) for metric in TILES}


def api(tab: Tab, report: str, app_id, query: str = "") -> dict:
    """A report of the analytics API, read with the browser's session (as a marketer's own script would)."""
    answer = tab.page.request.get(f"{tab.base}/api/analytics/{report}?app_id={app_id}&{query}")
    assert answer.ok, answer.text()
    return answer.json()


def money_or_number(value) -> float | None:
    if isinstance(value, dict):
        return float(value["amount"])
    return None if value is None else float(value)


def api_tiles(tab: Tab, app_id, query: str) -> dict[str, float | None]:
    current = api(tab, "overview", app_id, query)["current"]
    return {metric: money_or_number(current[metric]) for metric in TILES}


def charts_drawn(tab: Tab, count: int) -> None:
    canvases = tab.page.locator("[data-chart] canvas")
    expect(canvases).to_have_count(count)
    for index in range(count):
        box = canvases.nth(index).bounding_box()
        assert box["width"] > 100 and box["height"] > 100


def test_sign_in_pick_an_app_and_the_overview_charts_show_the_apis_numbers(tab, marketer):
    user, app, _ = marketer
    tab.sign_in(user.email)
    expect(tab.page.get_by_role("heading", name="Your apps")).to_be_visible()
    tab.page.get_by_role("link", name="Puzzle Quest").click()
    expect(tab.page).to_have_url(f"{tab.base}/apps/{app.id}/overview")
    expect(tab.page.locator(".locale")).to_have_text(f"Times in {app.timezone} · Money in USD")
    charts_drawn(tab, 4)
    shown = tiles(tab)
    assert shown == api_tiles(tab, app.id, "days=7")
    # No cost imported: the cost tile is a dash (null), not a cost of 0, and so is ROAS.
    assert (shown["installs"], shown["revenue"], shown["cost"], shown["roas"]) == (6, 6 * 4.99, None, None)
    sources = tab.page.locator("tr[data-source]")
    expect(sources).to_have_count(3)
    api_sources = {
        row["mediaSource"]: (row["installs"], float(row["revenue"]["amount"]))
        for row in api(tab, "campaigns", app.id, "days=7&level=source")["rows"]
    }
    assert api_sources == {"meta": (3, 3 * 4.99), "google_ads": (2, 2 * 4.99), "organic": (1, 4.99)}
    for source, (installs, revenue) in api_sources.items():
        row = tab.page.locator(f"tr[data-source='{source}']")
        assert number(row.locator("[data-metric=installs]").get_attribute("data-value")) == installs
        assert number(row.locator("[data-metric=revenue]").get_attribute("data-value")) == revenue
    # The installs over time are the API's series, in the app's days: 3 from meta, then 2 + 1 today or yesterday.
    drawn = tab.page.evaluate(
        "() => JSON.parse(document.getElementById('chart-installs').textContent).series.map(s => s.data)"
    )
    points = api(tab, "series", app.id, "days=7&interval=day")["points"]
    assert drawn == [[p["nonOrganicInstalls"] for p in points], [p["organicInstalls"] for p in points]]
    assert sum(map(sum, drawn)) == 6
    assert tab.errors == []


def test_a_filter_changes_the_numbers_and_the_url_and_the_url_shows_the_same_view(browser, live_server, tab, marketer):
    user, app, _ = marketer
    tab.sign_in(user.email)
    tab.open(f"/apps/{app.id}/overview")
    week = tiles(tab)
    tab.page.select_option("#id_days", "1")
    tab.page.select_option("#id_model", "linear")
    tab.page.get_by_role("button", name="Apply").click()
    expect(tab.page).to_have_url(f"{tab.base}/apps/{app.id}/overview?days=1&model=linear")
    day = tiles(tab)
    assert day != week and (day["installs"], day["revenue"]) == (3, 3 * 4.99)
    assert day == api_tiles(tab, app.id, "days=1&model=linear")
    charts_drawn(tab, 4)

    shared = Tab(browser.new_context(), live_server.url)
    shared.sign_in(user.email)
    shared.open(f"/apps/{app.id}/overview?days=1&model=linear")
    assert tiles(shared) == day
    expect(shared.page.locator("#id_days")).to_have_value("1")
    expect(shared.page.locator("#id_model")).to_have_value("linear")
    assert tab.errors == shared.errors == []


def test_create_a_tracking_link_and_copy_its_click_url(tab, marketer, settings):
    user, app, _ = marketer
    tab.page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    tab.sign_in(user.email)
    tab.open(f"/apps/{app.id}/links")
    tab.page.get_by_role("link", name="New link").click()
    tab.page.fill("#id_name", "Spring video")
    tab.page.fill("#id_media_source", "meta")
    tab.page.fill("#id_campaign", "spring_sale")
    tab.page.fill("#id_web_url", "https://example.com/")
    tab.page.get_by_role("button", name="Create link").click()
    created = tab.page.locator("tr[data-created]")
    expect(created).to_contain_text("Spring video")
    click_url = created.locator("input[data-url='Click URL']").input_value()
    assert click_url.startswith(f"{settings.PUBLIC_BASE_URL}/c/") and len(click_url.rsplit("/", 1)[1]) == 10
    created.get_by_role("button", name="Copy the click url of Spring video").click()
    expect(created.get_by_role("button", name="Copy the click url of Spring video")).to_have_text("Copied")
    assert tab.page.evaluate("() => navigator.clipboard.readText()") == click_url
    assert tab.errors == []


def test_a_cost_file_with_a_bad_line_shows_the_line_number(tab, marketer):
    user, app, _ = marketer
    tab.sign_in(user.email)
    tab.open(f"/apps/{app.id}/costs")
    csv = b"date,source,campaign,currency,cost\n2026-11-01,meta,spring,USD,10\n2026-11-02,meta,spring,USD,-3\n"
    tab.page.set_input_files("#id_file", files=[{"name": "costs.csv", "mimeType": "text/csv", "buffer": csv}])
    tab.page.get_by_role("button", name="Import").click()
    expect(tab.page.locator("[data-import-error]")).to_contain_text("1 bad line(s); nothing was imported.")
    expect(tab.page.locator("tr[data-line='3']")).to_contain_text("cost: expected a non-negative number")
    assert tab.errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"], (
        "the page that lists the bad lines answers 400, which Chromium logs; nothing else"
    )


def test_a_readonly_user_is_refused_the_analytics_pages(tab, marketer):
    _, app, _ = marketer
    reader = UserFactory(role="readonly", password=PASSWORD)
    grant(reader, app, "view_app", "view_analytics")
    tab.sign_in(reader.email)
    expect(tab.page).to_have_url(f"{tab.base}/apps/{app.id}/links")
    expect(tab.page.get_by_role("link", name="Overview")).to_have_count(0)
    for path in ("overview", "campaigns", "models", "fraud", "conversions", "live"):
        assert tab.open(f"/apps/{app.id}/{path}").status == 403
        expect(tab.page.get_by_role("heading", name="You cannot open this page")).to_be_visible()


def test_a_locked_account_cannot_sign_in(tab, settings):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    user = UserFactory(role="user", password=PASSWORD)
    for _ in range(3):
        tab.sign_in(user.email, "wrong password!")
        expect(tab.page.get_by_role("alert")).to_have_text("Invalid email or password.")
    tab.sign_in(user.email)
    expect(tab.page.get_by_role("alert")).to_contain_text("Too many failed sign-ins")
    assert tab.open("/apps/").url.startswith(f"{tab.base}/sign-in")


PAGES = [
    "overview",
    "campaigns",
    "cohorts?split=source",
    "models",
    "fraud",
    "conversions?event_id={conversion_id}",
    "conversions?device_id=meta-0",
    "live",
    "links",
    "links/new",
    "costs",
    "settings",
    "settings/edit",
]


CHARTS = {"overview": 4, "campaigns": 2, "models": 2, "fraud": 1}


def legend(tab: Tab, chart: str) -> dict:
    """A drawn chart's legend. Six model names do not fit on one line of a chart, on a desktop or a
    phone: they wrap below it (a plain legend at the bottom), none hidden behind paging arrows."""
    return tab.page.evaluate(
        "id => echarts.getInstanceByDom(document.querySelector(`[data-chart=${id}]`)).getOption().legend[0]", chart
    )


def series_names(tab: Tab, chart: str) -> list[str]:
    return tab.page.evaluate(
        "id => echarts.getInstanceByDom(document.querySelector(`[data-chart=${id}]`)).getOption().series"
        ".map(s => s.name)",
        chart,
    )


# The page's own tab lies wholly inside the tab bar's visible part (on a phone the bar scrolls sideways).
CURRENT_TAB_SHOWN = """() => {
    const tab = document.querySelector(".nav [aria-current=page]");
    if (!tab) return true;
    const bar = tab.closest(".nav").getBoundingClientRect(), box = tab.getBoundingClientRect();
    return box.left >= bar.left && box.right <= bar.right;
}"""


@pytest.mark.parametrize("width", [1280, 375])
def test_every_page_renders_without_errors_and_fits_the_width(browser, live_server, marketer, width):
    user, app, data = marketer
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab = Tab(browser.new_context(viewport={"width": width, "height": 900}), live_server.url)
    tab.open("/")
    tab.page.screenshot(path=SCREENSHOTS / f"sign-in-{width}.png", full_page=True)
    tab.sign_in(user.email)
    tab.page.screenshot(path=SCREENSHOTS / f"apps-{width}.png", full_page=True)
    for path in PAGES:
        response = tab.open(f"/apps/{app.id}/{path.format(**data)}")
        assert response.status == 200, path
        if path.startswith("cohorts"):  # the retention heatmap (a canvas and its hover layer) and LTV curves
            expect(tab.page.locator("[data-chart]:has(canvas)")).to_have_count(2)
        if path in CHARTS:
            charts_drawn(tab, CHARTS[path])
        if path == "models":
            shown = legend(tab, "chart-models-installs")
            assert (shown["type"], shown["bottom"]) == ("plain", 0)
        if path == "campaigns":  # no cost imported: revenue alone, no empty cost series in the legend
            assert series_names(tab, "chart-campaign-money") == ["Revenue"]
        overflow = tab.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow} px wider than the window"
        assert tab.page.evaluate(CURRENT_TAB_SHOWN), f"{path}: its tab is scrolled out of the tab bar"
        name = re.sub(r"\W+", "-", path.split("=")[0])
        tab.page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
    assert tab.errors == []


def test_a_charts_tooltip_breaks_no_rule_of_the_content_security_policy(tab, marketer):
    """An HTML tooltip would carry style attributes, which the policy refuses with a console error."""
    user, app, _ = marketer
    tab.sign_in(user.email)
    tab.open(f"/apps/{app.id}/overview")
    charts_drawn(tab, 4)
    canvas = tab.page.locator("[data-chart='chart-sources'] canvas")
    canvas.scroll_into_view_if_needed()  # below the fold: hovered and shot where it can be seen
    box = canvas.bounding_box()
    tab.page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.3)
    tab.page.wait_for_timeout(500)  # the tooltip shows after its delay
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=SCREENSHOTS / "overview-tooltip-1280.png")
    assert tab.errors == []


def test_the_django_admin_works_under_the_content_security_policy(tab, marketer):
    _, app, _ = marketer
    admin = UserFactory(role="admin", password=PASSWORD, is_staff=True, is_superuser=True)
    tab.open("/admin/login/")
    tab.page.fill("#id_username", admin.email)
    tab.page.fill("#id_password", PASSWORD)
    tab.page.click("input[type=submit]")
    for path in ("/admin/", f"/admin/apps_registry/app/{app.id}/change/", "/admin/accounts/user/add/"):
        assert tab.open(path).status == 200, path
    assert tab.errors == []


def test_live_events_show_a_new_event_without_a_reload(tab, marketer):
    user, app, _ = marketer
    tab.sign_in(user.email)
    tab.open(f"/apps/{app.id}/live")
    arrived = uuid.uuid4()
    now = dt.datetime.now(dt.UTC)
    clickhouse.insert(
        "events",
        event_rows(app.id, [{"event_id": arrived, "name": "sign_up", "at": now, "device_ids": {"idfa": "new"}}]),
        columns=EVENT_COLUMNS,
        tag="test_events",
    )
    expect(tab.page.get_by_text(str(arrived))).to_be_visible(timeout=15_000)
    expect(tab.page.locator("[data-live-status]")).to_contain_text("Updated")
    tab.page.get_by_role("button", name="Pause").click()
    expect(tab.page.locator("[data-live-status]")).to_have_text("Paused")
    assert tab.errors == []


@pytest.mark.parametrize("width", [1280, 375])
def test_the_funnels_page_draws_the_funnel_and_the_apis_numbers_and_fits_the_width(
    browser, live_server, marketer, width
):
    user, app, _ = marketer
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab = Tab(browser.new_context(viewport={"width": width, "height": 900}), live_server.url)
    tab.sign_in(user.email)
    tab.open(f"/apps/{app.id}/funnels")
    tab.page.screenshot(path=SCREENSHOTS / f"funnels-empty-{width}.png", full_page=True)
    tab.page.select_option("#step-1", "install")
    tab.page.select_option("#step-2", "purchase")
    tab.page.select_option("#id_split", "source")
    tab.page.get_by_role("button", name="Apply").click()
    expect(tab.page).to_have_url(re.compile(r"/funnels\?steps=install&steps=purchase&window=7&split=source"))
    charts_drawn(tab, 1)
    shown = [
        tab.page.get_attribute(f"tr[data-step={step}] [data-devices]", "data-devices")
        for step in ("install", "purchase")
    ]
    answer = tab.page.request.get(
        f"{tab.base}/api/analytics/funnel?app_id={app.id}&steps=install,purchase&split=source"
    )
    assert answer.ok, answer.text()
    assert shown == [str(step["devices"]) for step in answer.json()["total"]] == ["6.0", "6.0"]
    expect(tab.page.locator("tr[data-source]")).to_have_count(3)  # meta, google_ads, organic
    overflow = tab.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the funnels page is {overflow} px wider than the window"
    tab.page.screenshot(path=SCREENSHOTS / f"funnels-{width}.png", full_page=True)


def table_rows(tab: Tab, metrics: tuple[str, ...]) -> dict[str, tuple]:
    """The report table's rows as shown: each row's key and its numbers (data-value) in these metrics."""
    out = {}
    for row in tab.page.locator("table.report tbody tr").all():
        values = tuple(number(row.locator(f"[data-metric={m}]").get_attribute("data-value")) for m in metrics)
        out[row.get_attribute("data-row")] = values
    return out


CAMPAIGN_METRICS = ("clicks", "installs", "payingUsers", "revenue", "cost", "roas")


def api_rows(rows: list[dict], key: str) -> dict[str, tuple]:
    return {row[key]: tuple(money_or_number(row[m]) for m in CAMPAIGN_METRICS) for row in rows}


def test_the_campaigns_page_shows_the_apis_rows_drills_down_sorts_and_downloads_the_csv(tab, marketer):
    user, app, _ = marketer
    tab.sign_in(user.email)
    tab.open(f"/apps/{app.id}/campaigns?days=7")
    charts_drawn(tab, 2)
    sources = api(tab, "campaigns", app.id, "days=7&level=source")
    assert table_rows(tab, CAMPAIGN_METRICS) == api_rows(sources["rows"], "mediaSource")
    assert table_rows(tab, ("installs",)) == {"meta": (3,), "google_ads": (2,), "organic": (1,)}
    total = tab.page.locator("tr[data-row=total] [data-metric=installs]").get_attribute("data-value")
    assert number(total) == sources["total"]["installs"] == 6

    tab.page.get_by_role("link", name="meta", exact=True).click()
    expect(tab.page).to_have_url(re.compile(r"level=campaign.*media_source=meta|media_source=meta.*level=campaign"))
    campaigns = api(tab, "campaigns", app.id, "days=7&level=campaign&media_source=meta")
    assert table_rows(tab, CAMPAIGN_METRICS) == api_rows(campaigns["rows"], "campaign")
    assert table_rows(tab, ("installs", "revenue")) == {"spring_sale": (3, 3 * 4.99)}
    expect(tab.page.locator(".crumbs [aria-current=page]")).to_have_text("Campaigns")

    tab.page.get_by_role("link", name="All media sources").click()
    header = tab.page.locator("th", has=tab.page.get_by_role("link", name="Installs"))
    expect(header).to_have_attribute("aria-sort", "descending")
    header.get_by_role("link").focus()
    tab.page.keyboard.press("Enter")  # sorting is a link: the keyboard reaches it like the mouse
    expect(tab.page).to_have_url(re.compile(r"sort=installs"))
    expect(tab.page.locator("th", has=tab.page.get_by_role("link", name="Installs"))).to_have_attribute(
        "aria-sort", "ascending"
    )
    assert list(table_rows(tab, ("installs",))) == ["organic", "google_ads", "meta"]

    href = tab.page.locator("a[data-csv]").get_attribute("href")
    csv = tab.page.request.get(tab.base + href)  # the signed-in session is enough for the API's CSV
    assert csv.ok and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text().splitlines()
    assert lines[0].startswith("mediaSource,impressions,clicks,installs")
    assert sorted(line.split(",")[:4] for line in lines[1:]) == [
        ["google_ads", "0", "2", "2.0"],
        ["meta", "0", "3", "3.0"],
        ["organic", "", "", "1.0"],
    ]
    assert tab.errors == []


def test_the_models_page_shows_each_models_installs_and_revenue_as_the_api_does(tab, marketer):
    user, app, _ = marketer
    tab.sign_in(user.email)
    tab.open(f"/apps/{app.id}/models?days=7&model=linear")
    charts_drawn(tab, 2)
    shown = {
        (cell.get_attribute("data-model"), row.get_attribute("data-row")): (
            number(cell.get_attribute("data-installs")),
            number(cell.get_attribute("data-revenue")),
        )
        for row in tab.page.locator("table.report tbody tr").all()
        for cell in row.locator("td[data-model]").all()
    }
    answer = api(tab, "models", app.id, "days=7")
    assert shown == {
        (result["model"], row["mediaSource"]): (result["installs"], float(result["revenue"]["amount"]))
        for row in answer["rows"]
        for result in row["models"]
    }
    assert len(shown) == 6 * 3, "six models for meta, google_ads and organic"
    assert {shown[("time_decay", s)] for s in ("meta", "google_ads", "organic")} == {
        (3, 3 * 4.99),
        (2, 2 * 4.99),
        (1, 4.99),
    }, "one touch per install: every model gives it all the credit"
    tab.page.get_by_role("button", name="Apply").click()
    expect(tab.page).to_have_url(re.compile(r"model=linear"))  # the chosen model travels on to other pages
    assert tab.errors == []


def test_the_fraud_page_shows_flagged_installs_and_click_to_install_times_as_the_api_does(tab, marketer):
    user, app, _ = marketer
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    injected = [{"idfa": f"injected-{n}"} for n in range(2)]
    clickhouse.insert(
        "touchpoints",
        touch_rows(
            app.id,
            [{"source": "shady_net", "at": now - dt.timedelta(hours=1, seconds=3), "device_ids": d} for d in injected],
        ),
        columns=TOUCH_COLUMNS,
        tag="test_touches",
    )
    clickhouse.insert(
        "events",
        event_rows(app.id, [{"name": "install", "at": now - dt.timedelta(hours=1), "device_ids": d} for d in injected]),
        columns=EVENT_COLUMNS,
        tag="test_events",
    )
    engine.attribution_run(app=app, since=now - dt.timedelta(days=4), until=now + dt.timedelta(seconds=1))
    tab.sign_in(user.email)
    tab.open(f"/apps/{app.id}/fraud?days=7")
    charts_drawn(tab, 2)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=SCREENSHOTS / "fraud-flagged-1280.png", full_page=True)
    flagged = {
        row.get_attribute("data-flagged"): int(row.locator("[data-value]").get_attribute("data-value"))
        for row in tab.page.locator("tr[data-flagged]").all()
    }
    fraud = api(tab, "fraud", app.id, "days=7")["rows"]
    assert flagged == {f"{r['mediaSource']}|{r['reason']}|{r['status']}": r["installs"] for r in fraud}
    assert flagged == {"shady_net|click_injection|flagged": 2}, "3 s from click to install: under the 10 s minimum"

    histogram = {
        row.get_attribute("data-row"): [int(cell.get_attribute("data-value")) for cell in row.locator("td").all()]
        for row in tab.page.locator("table.report tbody tr").all()
    }
    times = api(tab, "click-to-install", app.id, "days=7")["rows"]
    bounds = [0, 10, 60, 600, 3600, 6 * 3600, 24 * 3600, 7 * 24 * 3600]
    assert {
        (source, bounds[n]): installs for source, row in histogram.items() for n, installs in enumerate(row) if installs
    } == {(r["mediaSource"], r["fromSeconds"]): r["installs"] for r in times}
    assert histogram == {
        "meta": [0, 0, 0, 3, 0, 0, 0, 0],  # 30 min from click to install
        "google_ads": [0, 0, 0, 2, 0, 0, 0, 0],
        "shady_net": [2, 0, 0, 0, 0, 0, 0, 0],
    }
    assert tab.errors == []


def test_find_a_devices_conversions_by_its_id_and_open_one_story(tab, marketer):
    user, app, data = marketer
    tab.sign_in(user.email)
    tab.open(f"/apps/{app.id}/conversions")
    tab.page.fill("#id_device_id", "meta-0")
    tab.page.get_by_role("button", name="Find").click()
    expect(tab.page).to_have_url(re.compile(r"device_id=meta-0"))
    rows = tab.page.locator("tr[data-conversion]")
    expect(rows).to_have_count(1)  # the device's one install; its purchase is no conversion
    assert rows.get_attribute("data-conversion") == str(data["conversion_id"])
    expect(rows).to_contain_text("meta · spring_sale")
    rows.get_by_role("link", name="install").click()
    expect(tab.page).to_have_url(re.compile(rf"event_id={data['conversion_id']}"))
    expect(tab.page.locator("#decision-heading")).to_contain_text("install")
    expect(tab.page.locator("[data-decision]")).to_contain_text("Attributed to meta · spring_sale")
    rules = tab.page.locator("section[aria-labelledby=rules-heading]")
    expect(rules.get_by_role("row", name="Re-engagement window")).to_contain_text("30 d")
    expect(rules.get_by_role("row", name="Fraud policy")).to_contain_text("Flag: keep the install attributed")
    assert tab.errors == []


def test_more_filters_narrow_the_report_and_the_link_names_only_the_filters_set(tab, marketer):
    user, app, _ = marketer
    tab.sign_in(user.email)
    tab.open(f"/apps/{app.id}/campaigns?days=7")
    tab.page.get_by_text("More filters").click()
    tab.page.fill("#id_media_source", "google_ads")
    tab.page.get_by_role("button", name="Apply").click()
    expect(tab.page).to_have_url(
        f"{tab.base}/apps/{app.id}/campaigns?days=7&model=last_touch&level=source&sort=-installs&media_source=google_ads"
    )
    assert table_rows(tab, ("installs",)) == {"google_ads": (2,)}
    expect(tab.page.locator(".more-filters")).to_have_attribute("open", "")

    today = dt.datetime.now(zoneinfo.ZoneInfo(app.timezone)).date()
    tab.page.select_option("#id_days", "")
    tab.page.fill("#id_media_source", "")
    tab.page.fill("#id_date_from", (today - dt.timedelta(days=1)).isoformat())
    tab.page.fill("#id_date_to", today.isoformat())
    tab.page.get_by_role("button", name="Apply").click()
    expect(tab.page).to_have_url(
        re.compile(r"\?model=last_touch&level=source&sort=-installs&date_from=[-0-9]+&date_to=[-0-9]+$")
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=SCREENSHOTS / "campaigns-dates-1280.png", full_page=True)
    expected = api(tab, "campaigns", app.id, tab.page.url.split("?", 1)[1])["rows"]
    assert table_rows(tab, CAMPAIGN_METRICS) == api_rows(expected, "mediaSource")
    assert tab.errors == []
