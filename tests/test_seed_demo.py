"""``seed_demo`` (small) sends, through the real endpoints, what every report needs to show something:
90 days in each app's time zone, paths that the six models credit differently, spend per campaign,
purchases in two currencies, re-engagements, reinstalls and a click-flooding source; then it stores
and attributes them."""

import datetime as dt
import io
import re
import uuid
import zoneinfo
from collections import defaultdict

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from apps_registry.models import AdSpend, App, TrackingLink
from core import clickhouse
from events import demo
from tests.factories import UserFactory, bearer
from tests.ingestion import count

pytestmark = pytest.mark.django_db(transaction=True)

INSTALLS = 300


def rows(sql: str, app: App) -> list[tuple]:
    return clickhouse.execute(sql, {"app": app.id}, tag="test.seed_demo").rows


def retention(app: App, day: int) -> float:
    """Devices active exactly ``day`` days after their first install, among those installed long enough ago."""
    (share,) = rows(
        f"""
        WITH installs AS (
            SELECT device_id, min(timestamp) AS installed FROM events
            WHERE app_id = {{app:UUID}} AND event_name = 'install' GROUP BY device_id
            HAVING installed < now64() - INTERVAL {day + 1} DAY
        )
        SELECT countDistinctIf(e.device_id, dateDiff('day', i.installed, e.timestamp) = {day})
               / (SELECT count() FROM installs)
        FROM events AS e INNER JOIN installs AS i ON e.device_id = i.device_id
        WHERE e.app_id = {{app:UUID}} AND e.event_name = 'session_start'
        """,
        app,
    )[0]
    return share


def test_the_demo_has_what_every_report_needs(settings):
    # With Kafka (the services run), the demo's drain reads with consumer groups of this test's own.
    settings.KAFKA_CONSUMER_GROUP_PREFIX = f"test-{uuid.uuid4().hex}"
    admin = UserFactory(role="admin", is_superuser=True)
    output = io.StringIO()
    call_command("seed_demo", installs=INSTALLS, stdout=output)
    sent = {
        name: (int(touches), int(events))
        for name, touches, events in re.findall(
            r"(Demo: [^(]+?) \(.*?\): (\d+) touchpoints and (\d+) events", output.getvalue()
        )
    }
    assert set(sent) == {spec.name for spec in demo.DEMO_APPS}
    api = APIClient()
    for spec in demo.DEMO_APPS:
        app = App.objects.get(name=spec.name)
        assert (app.timezone, app.currency) == (spec.timezone, spec.currency)
        # Everything went through the endpoints and was stored: what was sent is in ClickHouse.
        assert (count("touchpoints", app.id), count("events", app.id)) == sent[spec.name]

        # 90 days of the app's time zone, ending now.
        zone = zoneinfo.ZoneInfo(spec.timezone)
        first, last = rows("SELECT min(timestamp), max(timestamp) FROM events WHERE app_id = {app:UUID}", app)[0]
        today = dt.datetime.now(zone).date()
        assert today - dt.timedelta(days=89) <= first.astimezone(zone).date() <= today - dt.timedelta(days=85)
        assert dt.datetime.now(dt.UTC) - last < dt.timedelta(days=1)

        # Purchases in two currencies; the reports convert both (the demo rates cover them).
        currencies = rows(
            "SELECT DISTINCT currency FROM events WHERE app_id = {app:UUID} AND event_name = 'purchase'", app
        )
        assert sorted(c for (c,) in currencies) == ["EUR", "USD"]

        # Spend for every campaign that has a tracking link, imported through the cost import.
        campaigns = set(TrackingLink.objects.filter(app=app).values_list("media_source", "campaign"))
        assert set(AdSpend.objects.filter(app=app).values_list("source", "campaign")) == campaigns
        billed = set(AdSpend.objects.filter(app=app).values_list("source", "currency"))
        assert billed == {(source, "USD" if source == "meta" else spec.currency) for source, _ in campaigns}
        overview = api.get(f"/api/analytics/overview?app_id={app.id}&days=90", **bearer(admin)).json()["current"]
        assert overview["installs"] == INSTALLS
        for money in (overview["revenue"], overview["cost"]):
            assert money["currency"] == spec.currency and money["unconverted"] == [] and float(money["amount"]) > 0
        assert 0 < overview["roas"] < 5 and overview["impressions"] > overview["clicks"] > 0

        # The six models credit the sources differently.
        models = api.get(f"/api/analytics/models?app_id={app.id}&days=90", **bearer(admin)).json()["rows"]
        per_model = defaultdict(list)
        for row in models:
            for credited in row["models"]:
                per_model[credited["model"]].append(credited["installs"])
        assert len(per_model) == 6 and len({tuple(v) for v in per_model.values()}) == 6, per_model

        # Re-engagements through a retargeting click, reinstalls, and a click-flooding source flagged.
        kinds = dict(
            rows(
                "SELECT conversion_kind, countIf(media_source != '') FROM attributions FINAL "
                "WHERE app_id = {app:UUID} GROUP BY conversion_kind",
                app,
            )
        )
        assert kinds["re_engagement"] > 0 and "reinstall" in kinds
        fraud = api.get(f"/api/analytics/fraud?app_id={app.id}&days=90", **bearer(admin)).json()["rows"]
        assert {(row["mediaSource"], row["reason"]) for row in fraud} == {(demo.FLOODER, "click_flooding")}

        # Retention decays.
        assert retention(app, 1) > retention(app, 7) > retention(app, 30) > 0

    output = io.StringIO()
    call_command("seed_demo", installs=INSTALLS, if_empty=True, stdout=output)
    assert output.getvalue() == "Demo data exists; nothing to do.\n"
    assert App.objects.filter(name__startswith="Demo: ").count() == len(demo.DEMO_APPS)


def test_the_plan_is_the_same_for_the_same_seed_and_time():
    spec = demo.DEMO_APPS[1]
    codes = {key: f"code{n}" for n, key in enumerate(demo.link_keys(spec.platform))}
    now = dt.datetime(2026, 3, 29, 12, tzinfo=dt.UTC)  # Berlin moves its clocks that night

    def plan(seed):
        return demo.Planner(app=spec, links=codes, now=now, days=90, seed=seed).plan(50)

    first, again, other = plan(7), plan(7), plan(8)
    assert (first.touches, first.events, first.spend) == (again.touches, again.events, again.spend)
    assert first.events != other.events
    days = {day for day, *_ in first.spend}  # an ad spends from the day of its first install on
    assert dt.date(2025, 12, 30) <= min(days) and max(days) == dt.date(2026, 3, 29)
    assert min(e["timestamp"] for e in first.events) >= "2025-12-29T23:00:00+00:00"  # Berlin midnight
    assert all(dt.datetime.fromisoformat(e["timestamp"]) < now for e in first.events)
