"""The web SDK (static/sdk/ump.js) in a real browser, against the real ingestion endpoint.

Debian's Chromium, driven by Playwright, opens a shop's landing page on one origin
(http://127.0.0.1:<port>) that embeds the SDK as the README shows, with a real app's key; the SDK
posts to the tracking host on another origin (http://localhost:<port>, the same live server), so
CORS and sendBeacon work as they do on a customer's site. Each test drains the outbox and reads
what ClickHouse (chdb) stored.

Chromium missing: the tests skip, or fail under REQUIRE_SERVICES=1 (as in CI).
"""

import decimal
import json
import shutil
import threading
import time

import pytest
from django.conf import settings
from django.http import Http404, HttpResponse
from django.urls import include, path
from django.utils.html import escape
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from playwright.sync_api import sync_playwright

from core.middleware import csp_exempt
from events import privacy
from events.bus import get_bus
from events.bus.topics import EVENTS
from events.consumer.runner import TopicConsumer, consumer_group
from events.ingestion import views as ingestion
from tests.conftest import service_unavailable
from tests.ingestion import app_with_key, count, stored_events

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db(transaction=True)]

COLUMNS = (
    "event_id",
    "event_name",
    "platform",
    "device_id",
    "device_ids",
    "session_id",
    "user_id",
    "ip_prefix",
    "user_agent",
    "attribution",
    "revenue",
    "currency",
    "properties",
    "consent",
)
CAMPAIGN = "utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale&ump_click_id=clk-7f3a"
FIRST_TOUCH = {"source": "newsletter", "medium": "email", "campaign": "spring_sale", "click_id": "clk-7f3a"}

# The shop's pages: app id -> the options its pages pass to ump.init().
_shops: dict[str, dict] = {}


@xframe_options_exempt  # the shop frames its own landing page
@csp_exempt  # a customer's page, with its own inline script: not under this site's policy
def shop_page(request, app_id, page: str):
    """A customer's page embedding the SDK the way the README shows; ``framed`` shows the landing page
    in a sandboxed frame, where the browser refuses the SDK any storage."""
    options = _shops.get(str(app_id))
    if options is None:
        raise Http404
    if page == "framed":
        landing = f"landing?{request.GET.urlencode()}"
        return HttpResponse(f'<!doctype html><iframe sandbox="allow-scripts" src="{escape(landing)}"></iframe>')
    sdk = f"{options['endpoint']}/static/sdk/ump.js"
    init = json.dumps(options).replace("<", "\\u003c")
    html = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Shop: {page}</title>
<script src="{sdk}"></script>
<script>ump.init({init});</script>
</head><body><h1>{page}</h1></body></html>"""
    return HttpResponse(html)


# How each POST /api/events arrived, seen by the server: a page being unloaded is past Playwright's
# request events, so the beacons are observed here, on their way into the real endpoint.
_arrivals: list[dict] = []
# Set by a test: the next POST waits until the event is set, then fails without reaching the endpoint.
_failing_post: list[threading.Event] = []


def _where_the_key_is(request) -> str | None:
    if "HTTP_X_API_KEY" in request.META:
        return "header"
    if "api_key" in request.GET:
        return "url"
    return "body" if "api_key" in json.loads(request.body) else None


@csrf_exempt  # as the endpoint it wraps
def recorded_events_endpoint(request):
    if request.method != "POST":  # a CORS preflight
        return ingestion.events(request)
    _arrivals.append({"content_type": request.content_type, "key_in": _where_the_key_is(request)})
    if _failing_post:
        release = _failing_post.pop()
        assert release.wait(timeout=30), "the test never released the held post"
        return HttpResponse("simulated outage", status=503)
    return ingestion.events(request)


urlpatterns = [
    path("shop/<uuid:app_id>/<slug:page>", shop_page),
    path("api/events", recorded_events_endpoint),
    path("", include("attribution.urls")),
]


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium")
    if executable is None:
        service_unavailable("Chromium", "no chromium on PATH (install it: apt-get install -y chromium)")
    # Playwright's sync API keeps an asyncio loop registered on this thread while it runs; Django would
    # take every ORM call of these tests (and of the database setup) for one made from async code.
    # Nothing here is async: the calls are plain sync ones, so allow them.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def shop(live_server):
    """An app with a key, and its shop: ``shop.url(page, query)`` on the shop's origin."""
    app, raw_key = app_with_key()
    tracking_host = live_server.url  # http://localhost:<port>
    shop_origin = tracking_host.replace("://localhost:", "://127.0.0.1:")
    assert shop_origin != tracking_host, "the shop must be another origin than the tracking host"
    _shops[str(app.id)] = {"apiKey": raw_key, "endpoint": tracking_host}

    class Shop:
        id = app.id
        options = _shops[str(app.id)]

        @staticmethod
        def url(page: str = "landing", query: str = "") -> str:
            return f"{shop_origin}/shop/{app.id}/{page}" + (f"?{query}" if query else "")

    yield Shop
    del _shops[str(app.id)]


@pytest.fixture
def context(browser):
    context = browser.new_context()
    yield context
    context.close()


@pytest.fixture
def sent(context):
    """Every request to /api/events the browser makes, in order."""
    requests = []
    context.on("request", lambda request: "/api/events" in request.url and requests.append(request))
    return requests


@pytest.fixture
def arrivals():
    _arrivals.clear()
    yield _arrivals
    _arrivals.clear()


def stored(store_all, app_id, expected: int) -> list[dict]:
    """The app's events once ``expected`` rows are in ClickHouse and the bus is drained (a duplicate
    delivery would be stored by then, as an extra row)."""
    if settings.KAFKA_BOOTSTRAP_SERVERS:
        store_all(until=lambda: count("events", app_id) >= expected, timeout=20)
        store_all()
        return stored_events(app_id, *COLUMNS)
    # store_all's idle polls cost ~2 s a call: a drain of the events topic alone that polls briefly
    # keeps these tests quick.
    drain = TopicConsumer(get_bus().subscribe(EVENTS, consumer_group(EVENTS)), EVENTS, max_wait=0.05)
    deadline = time.monotonic() + 20
    try:
        while drain.drain(max_seconds=1) or count("events", app_id) < expected:
            assert time.monotonic() < deadline, f"{expected} events not stored within 20 s"
    finally:
        drain.subscription.close()
    return stored_events(app_id, *COLUMNS)


def sdk_state(page) -> dict:
    return page.evaluate("() => JSON.parse(window.localStorage.getItem('ump:v1'))")


def sent_event_ids(request) -> list[str]:
    return [event["event_id"] for event in json.loads(request.post_data)["events"]]


def test_landing_page_view_carries_the_campaign(shop, context, sent, store_all):
    page = context.new_page()
    with page.expect_response(lambda r: "/api/events" in r.url, timeout=10_000) as answer:
        page.goto(shop.url("landing", CAMPAIGN))  # no explicit flush: the SDK's own timer sends it
    assert answer.value.status == 202
    request = answer.value.request
    assert request.headers["x-api-key"] == shop.options["apiKey"]
    assert "api_key" not in request.url, "a fetch carries the key in a header, never in the URL"
    state = sdk_state(page)

    (row,) = stored(store_all, shop.id, 1)
    assert str(row["event_id"]) == sent_event_ids(request)[0]
    assert row["event_name"] == "page_view"
    assert row["platform"] == "web"
    assert row["attribution"] == FIRST_TOUCH
    assert row["properties"] == {"path": f"/shop/{shop.id}/landing"}
    assert row["consent"] is True
    web_id = privacy.pseudonymize(str(shop.id), "web_id", state["webId"])
    assert row["device_ids"] == {"web_id": web_id} and row["device_id"] == web_id
    assert state["webId"] not in row["device_id"], "the web id is stored pseudonymised"
    assert row["session_id"] == state["sessionId"]
    assert "HeadlessChrome" in row["user_agent"]
    assert row["ip_prefix"] == "127.0.0.0"
    assert "127.0.0.1" not in repr(row), "the raw IP is never stored"


def test_first_touch_is_kept_over_a_later_campaign(shop, context, store_all):
    page = context.new_page()
    page.goto(shop.url("landing", CAMPAIGN))
    page.evaluate("() => ump.flush()")
    page.goto(shop.url("pricing", "utm_source=retargeting&utm_medium=cpc&utm_campaign=winback&ump_click_id=clk-2"))
    page.evaluate("() => ump.flush()")

    rows = stored(store_all, shop.id, 2)
    assert [r["properties"]["path"] for r in rows] == [f"/shop/{shop.id}/landing", f"/shop/{shop.id}/pricing"]
    assert [r["attribution"] for r in rows] == [FIRST_TOUCH, FIRST_TOUCH]
    assert rows[0]["device_id"] == rows[1]["device_id"] != ""
    assert rows[0]["session_id"] == rows[1]["session_id"] != ""


def test_custom_event_with_revenue_and_properties(shop, context, store_all):
    page = context.new_page()
    page.goto(shop.url("landing", CAMPAIGN))
    page.evaluate(
        """() => {
            ump.track("purchase", {revenue: 49.9, currency: "EUR", userId: "customer-42",
                                   properties: {plan: "pro", seats: 3, trial: false}});
            ump.flush();
        }"""
    )

    rows = stored(store_all, shop.id, 2)
    (purchase,) = [r for r in rows if r["event_name"] == "purchase"]
    assert purchase["revenue"] == decimal.Decimal("49.9")
    assert purchase["currency"] == "EUR"
    assert purchase["properties"] == {"plan": "pro", "seats": "3", "trial": "false"}
    assert purchase["user_id"] == privacy.pseudonymize(str(shop.id), "user", "customer-42")
    assert purchase["attribution"] == FIRST_TOUCH
    assert purchase["platform"] == "web"


@pytest.mark.parametrize("leave", ["navigate away", "close the page"])
def test_leaving_the_page_sends_the_queue_with_send_beacon(shop, context, sent, arrivals, store_all, leave):
    page = context.new_page()
    page.goto(shop.url("landing", CAMPAIGN))
    page.evaluate('() => ump.track("add_to_cart", {properties: {sku: "sku-1"}})')
    assert not sent, "queued events wait for the flush timer"
    if leave == "navigate away":
        page.goto("about:blank")
    else:
        page.close(run_before_unload=True)

    rows = stored(store_all, shop.id, 2)
    assert sorted(r["event_name"] for r in rows) == ["add_to_cart", "page_view"]
    assert all(r["attribution"] == FIRST_TOUCH for r in rows)
    assert arrivals == [{"content_type": "text/plain", "key_in": "body"}], "one navigator.sendBeacon"


def test_a_failed_send_is_retried_and_stored_once(shop, context, store_all):
    # A network failure is the one thing simulated here: the first POST reaches the server, which
    # accepts it, but the connection breaks before the browser reads the answer. The SDK must send the
    # same events again, and the server must store them once (event_id is the idempotency key).
    attempts, first_answer = [], []

    def lose_first_answer(route):
        attempts.append(route.request)
        if len(attempts) == 1:
            first_answer.append(route.fetch().status)
            route.abort("connectionreset")
        else:
            route.continue_()

    page = context.new_page()
    page.route("**/api/events", lose_first_answer)
    page.goto(shop.url("landing", CAMPAIGN))
    with page.expect_response(lambda r: "/api/events" in r.url and r.status == 202, timeout=10_000):
        page.evaluate('() => { ump.track("sign_up"); ump.flush(); }')  # fails; the backoff timer retries

    assert len(attempts) == 2
    assert first_answer == [202], "the server accepted the first delivery"
    assert sent_event_ids(attempts[0]) == sent_event_ids(attempts[1])
    rows = stored(store_all, shop.id, 2)
    assert sorted(r["event_name"] for r in rows) == ["page_view", "sign_up"]
    assert sorted(str(r["event_id"]) for r in rows) == sorted(sent_event_ids(attempts[0]))


def test_events_queued_during_an_outage_all_leave_with_the_page(shop, context, arrivals, store_all):
    # Simulated network failure: every POST fails while 30 events are tracked; the network comes
    # back and the visitor leaves before the next retry. Everything queued (more than one batch) must
    # go in beacons: once the page is hidden, no timer is sure to run again (mobile browsers freeze it).
    page = context.new_page()
    page.route("**/api/events", lambda route: route.abort("internetdisconnected"))
    page.goto(shop.url("landing", CAMPAIGN))
    with page.expect_event("requestfailed"):  # the full batch of 20 is sent at once, and fails
        page.evaluate('() => { for (let i = 0; i < 30; i++) ump.track("view_item", {properties: {i}}); }')
    page.evaluate("() => new Promise(resolve => setTimeout(resolve, 0))")  # the SDK has seen the failure
    page.unroute("**/api/events")
    page.close(run_before_unload=True)

    rows = stored(store_all, shop.id, 31)
    assert len(rows) == 31
    assert sorted(int(r["properties"]["i"]) for r in rows if r["event_name"] == "view_item") == list(range(30))
    assert arrivals == [{"content_type": "text/plain", "key_in": "body"}] * 2, "20 + 11 events, two beacons"


def test_a_post_unanswered_when_the_visitor_leaves_goes_again_in_the_beacons(shop, context, arrivals, store_all):
    # The first post (20 events) hangs unanswered while the visitor leaves, and fails after the page is
    # gone: nothing is left to retry it then, so the beacons must have carried its events too.
    release = threading.Event()
    _failing_post.append(release)
    page = context.new_page()
    page.goto(shop.url("landing", CAMPAIGN))
    try:
        page.evaluate('() => { for (let i = 0; i < 25; i++) ump.track("view_item", {properties: {i}}); }')
        deadline = time.monotonic() + 10
        while not arrivals:
            assert time.monotonic() < deadline, "the full batch of 20 was never posted"
            time.sleep(0.01)
        page.close(run_before_unload=True)
    finally:
        release.set()
        _failing_post.clear()

    rows = stored(store_all, shop.id, 26)
    assert len(rows) == 26
    assert sorted(int(r["properties"]["i"]) for r in rows if r["event_name"] == "view_item") == list(range(25))
    beacon = {"content_type": "text/plain", "key_in": "body"}
    assert arrivals == [{"content_type": "application/json", "key_in": "header"}] + [beacon] * 2, (
        "the failed post, then 20 + 6 events in two beacons"
    )


def test_an_over_long_click_id_is_cut_to_what_the_server_accepts(shop, context, store_all):
    page = context.new_page()
    page.goto(shop.url("landing", f"utm_source=partner&ump_click_id={'c' * 300}"))
    page.evaluate("() => ump.flush()")

    (row,) = stored(store_all, shop.id, 1)
    assert row["attribution"] == {"source": "partner", "click_id": "c" * 128}


def test_without_storage_the_visitor_keeps_one_web_id_for_the_page(shop, context, store_all):
    # A sandboxed frame has an opaque origin: the browser refuses it localStorage (SecurityError).
    page = context.new_page()
    page.goto(shop.url("framed", CAMPAIGN))
    frame = page.frames[1]
    assert f"/shop/{shop.id}/landing?" in frame.url
    assert frame.evaluate("() => { try { window.localStorage; return false } catch (e) { return true } }")
    frame.evaluate('() => { ump.track("sign_up"); ump.flush(); }')

    rows = stored(store_all, shop.id, 2)
    assert sorted(r["event_name"] for r in rows) == ["page_view", "sign_up"]
    assert rows[0]["device_id"] == rows[1]["device_id"] != ""
    assert rows[0]["session_id"] == rows[1]["session_id"] != ""
    assert all(r["attribution"] == FIRST_TOUCH for r in rows)


def test_without_consent_nothing_identifies_the_visitor(shop, context, sent, store_all):
    shop.options["consent"] = False
    page = context.new_page()
    page.goto(shop.url("landing", CAMPAIGN))
    page.evaluate('() => { ump.track("purchase", {revenue: 5, currency: "USD", userId: "customer-42"}); ump.flush(); }')

    rows = stored(store_all, shop.id, 2)
    for row in rows:
        assert row["consent"] is False
        assert row["device_id"] == row["session_id"] == row["user_id"] == row["ip_prefix"] == row["user_agent"] == ""
        assert row["device_ids"] == {}
        assert row["attribution"] == FIRST_TOUCH, "the campaign is not personal: it is kept"
    (purchase,) = [r for r in rows if r["event_name"] == "purchase"]
    assert purchase["revenue"] == decimal.Decimal(5)
    body = sent[-1].post_data
    assert "web_id" not in body and "session_id" not in body and "customer-42" not in body, (
        "identifiers never leave the browser without consent"
    )
