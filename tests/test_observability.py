"""Alerts and dashboards that are checked: the Prometheus rules pass `promtool check rules` and their
unit tests (`promtool test rules`), the scrape configuration passes `promtool check config`, and after
real traffic through the product every expression of the rules and of the Grafana dashboards names
only metrics that /metrics serves — and every metric of the product is charted somewhere.

promtool comes from Debian's `prometheus` package (.ci/run and `make test` install it); without it
these tests are skipped, or fail under REQUIRE_SERVICES=1."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from apps_registry import links
from events.attribution_engine.services import attribution_follow_all
from events.bus import Message, publish, topics
from events.retention import retention_apply, retention_plan
from events.subjects import services as subject_services
from events.subjects.identity import Subject
from tests.conftest import PROJECT_DIR, service_unavailable
from tests.factories import PASSWORD, UserFactory, bearer, grant
from tests.ingestion import app_with_key, count, post_events

PROMETHEUS = PROJECT_DIR / "deploy" / "prometheus"
DASHBOARDS = sorted((PROJECT_DIR / "deploy" / "grafana" / "dashboards").glob("*.json"))
# Series Prometheus makes itself, not scraped from the product.
SYNTHETIC = {"up"}


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        service_unavailable("promtool", "not installed (apt-get install prometheus)")
    return found


def run(*command: str, cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_alert_rules_pass_promtool_and_their_unit_tests(promtool):
    run(promtool, "check", "rules", "alerts.yml", cwd=PROMETHEUS)
    run(promtool, "test", "rules", "alerts.test.yml", cwd=PROMETHEUS)


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.scale.yml"])
def test_the_scrape_configuration_passes_promtool(promtool, tmp_path, config):
    """As compose mounts it: the metrics token is a secret file, made up here."""
    token = tmp_path / "metrics_token"
    token.write_text("x" * 64)
    text = (PROMETHEUS / config).read_text().replace("/run/secrets/metrics_token", str(token))
    (tmp_path / config).write_text(text)
    shutil.copy(PROMETHEUS / "alerts.yml", tmp_path / "alerts.yml")
    run(promtool, "check", "config", config, cwd=tmp_path)


def test_every_alert_links_its_runbook_section():
    runbook = (PROJECT_DIR / "docs" / "operations.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9]", "", line.lstrip("#").strip().lower())
        for line in runbook.splitlines()
        if line.startswith("#")
    }
    for rule in _rules():
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{rule['alert'].lower()}"
        assert rule["alert"].lower() in anchors, f"docs/operations.md has no section {rule['alert']}"


# --- expressions against what /metrics serves --------------------------------------------------------

_FUNCTIONS_AND_KEYWORDS = {
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "rate",
    "increase",
    "irate",
    "histogram_quantile",
    "time",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "label_replace",
    "abs",
    "clamp_min",
    "clamp_max",
    "topk",
    "bottomk",
    "quantile",
    "delta",
    "deriv",
}


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression selects: strings, label matchers, range and grouping
    clauses removed, then every identifier that is not a function or keyword."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expression)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set(re.findall(r"(?<![\w.$:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()", text))
    return {name for name in names if name not in _FUNCTIONS_AND_KEYWORDS and not name.startswith("__")}


def _rules() -> list[dict]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def expressions() -> dict[str, str]:
    found = {f"alert {rule['alert']}": rule["expr"] for rule in _rules()}
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                found[f"{path.name}: {panel['title']} {target['refId']}"] = target["expr"]
    return found


def test_the_expression_reader_finds_the_metrics():
    expression = (
        'histogram_quantile(0.95, sum by (le, tag) (rate(unmogrowp_clickhouse_query_seconds_bucket{job="a"}[5m])))'
        ' / ignoring (x) time() - max(up{job=~"unmogrowp-.*"}) > 2 * 86400'
    )
    assert metric_names(expression) == {"unmogrowp_clickhouse_query_seconds_bucket", "up"}


def _traffic(store_all, settings) -> None:
    """What the product does in a day, small: SDK events (accepted, invalid, opted out), clicks and
    network touchpoints, a dead letter, storage, attribution, reports, sign-in failures and a
    lockout, a denial, an erasure, retention."""
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 1
    settings.OPT_OUT_CACHE_SECONDS = 0
    app, raw_key = app_with_key()
    admin = UserFactory(role="admin")
    user = UserFactory(role="user", password=PASSWORD)
    grant(user, app, "view_app", "view_analytics")
    link = links.link_create(app=app, created_by=admin, name="l", media_source="meta", web_url="https://x.example/")
    subject_services.opt_out_add(
        app=app, subject=Subject.of(app_id=app.id, kind="user", value="gone"), created_by=admin
    )
    post_events(
        raw_key,
        [
            {"event_name": "install", "device_ids": {"idfa": "A"}},
            {"event_name": ""},
            {"event_name": "open", "user_id": "gone"},
        ],
    )
    post_events("ump_wrong_key", [{"event_name": "open"}])
    Client().get(f"/c/{link.code}?idfa=A")
    APIClient().post(
        "/api/touchpoints",
        {"touchpoints": [{"type": "click", "link_code": link.code}]},
        format="json",
        HTTP_X_API_KEY=raw_key,
    )
    publish(topics.EVENTS, [Message(key="bad", value=b'{"app_id": "not an app"}')])
    store_all(until=lambda: count("events", app.id) == 1 and count("touchpoints", app.id) == 2)
    settings.ATTRIBUTION_SETTLE_SECONDS = 0
    attribution_follow_all()
    api = APIClient()
    for path in (f"/api/dashboard/stats?app_id={app.id}", f"/api/analytics/attribution?app_id={app.id}&model=linear"):
        assert api.get(path, **bearer(user)).status_code == 200
    assert api.get("/api/admin/users", **bearer(user)).status_code == 403
    for _ in range(3):
        api.post("/api/auth/login", {"email": user.email, "password": "wrong!"}, format="json")
    erasure = subject_services.subject_erasure_request(
        app=app, subject=Subject.of(app_id=app.id, kind="idfa", value="A"), requested_by=admin
    )
    subject_services.subject_erase(request=erasure, settle=0)
    retention_apply(retention_plan())
    Client().get("/health/ready")


@pytest.mark.django_db(transaction=True)
def test_dashboards_and_alerts_name_only_metrics_that_exist_after_real_traffic(store_all, settings):
    _traffic(store_all, settings)
    scraped = Client().get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert scraped.status_code == 200
    families = list(text_string_to_metric_families(scraped.content.decode()))
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}
    served = {family.name + suffix for family in families for suffix in suffixes.get(family.type, ("",))}
    served |= {sample.name for family in families for sample in family.samples}
    missing = {
        where: sorted(metric_names(expression) - served - SYNTHETIC)
        for where, expression in expressions().items()
        if metric_names(expression) - served - SYNTHETIC
    }
    assert missing == {}

    # And the other way round: every metric of the product is on a dashboard.
    charted = {
        re.sub(r"_(total|bucket|sum|count)$", "", name)
        for path in DASHBOARDS
        for panel in json.loads(path.read_text())["panels"]
        for target in panel["targets"]
        for name in metric_names(target["expr"])
    }
    product = {f.name for f in families if f.name.startswith("unmogrowp_") and not f.name.endswith("_created")}
    assert product - charted == set()
    sampled = {sample.name for family in families for sample in family.samples if sample.value}
    assert {"unmogrowp_events_total", "unmogrowp_consumer_rows_stored_total", "unmogrowp_dead_letters_total"} <= sampled
    assert {
        "unmogrowp_auth_failures_total",
        "unmogrowp_subject_requests_total",
        "unmogrowp_attribution_lag_seconds",
    } <= sampled
