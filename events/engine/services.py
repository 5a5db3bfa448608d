"""Running the engine: a window of conversion times, a recompute of history, or the continuous run.

Every run writes one row per (conversion, model) into ``attributions``; the table keeps the newest row
per (app, model, conversion), so running a window again — or recomputing it after the settings
changed — replaces results instead of adding to them.
"""

import datetime as dt
import logging
from collections.abc import Callable

from django.conf import settings
from django.utils import timezone

from apps_registry.models import App
from apps_registry.services import settings_current
from attribution import clickhouse
from events.models import AttributionRun

from . import datadriven, fraud, sql
from .rules import Rules

logger = logging.getLogger(__name__)

# Flooding and the data-driven weights describe a source over a period, never over a few minutes.
STATS_PERIOD = dt.timedelta(days=7)
# The continuous run reuses the period decisions of its previous run for this long.
STATS_REUSE = dt.timedelta(minutes=10)
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

COUNT_SQL = """
SELECT count() FROM attributions FINAL
WHERE app_id = {app_id:UUID} AND model = 'last_touch'
  AND conversion_time >= {since:DateTime64(3, 'UTC')} AND conversion_time < {until:DateTime64(3, 'UTC')}
"""


def rules_for(*, app: App) -> Rules:
    return Rules.of(app, settings_current(app=app))


def _period_decisions(*, app: App, rules: Rules, since: dt.datetime, until: dt.datetime) -> tuple[list[str], dict]:
    since = min(since, until - STATS_PERIOD)
    flooding = fraud.flooding_sources(app_id=app.id, rules=rules, since=since, until=until)
    weights = datadriven.channel_weights(app_id=app.id, since=since, until=until)
    return flooding, weights


def _insert(*, app: App, rules: Rules, window: str, since, until, flooding, weights) -> None:
    clickhouse.execute(
        sql.insert_results(window),
        sql.parameters(
            app_id=app.id,
            rules=rules,
            since=since,
            until=until,
            window=window,
            flood_sources=flooding,
            data_driven_weights=weights,
        ),
        tag="attribution_run",
        timeout=settings.ATTRIBUTION_QUERY_TIMEOUT_SECONDS,
    )


def attribution_run(
    *,
    app: App,
    since: dt.datetime,
    until: dt.datetime,
    recompute: bool = False,
    chunk: dt.timedelta = dt.timedelta(days=1),
    progress: Callable[[int, int], None] | None = None,
) -> AttributionRun:
    """Attribute every conversion with ``since <= time < until`` under the app's current settings,
    one chunk of conversion time per statement. ``progress(done, total)`` after each chunk."""
    if until <= since:
        raise ValueError("The window is empty: --since must be before --until.")
    rules = rules_for(app=app)
    flooding, weights = _period_decisions(app=app, rules=rules, since=since, until=until)
    run = AttributionRun.objects.create(
        app=app,
        mode=AttributionRun.Mode.RECOMPUTE if recompute else AttributionRun.Mode.WINDOW,
        window_start=since,
        window_end=until,
        settings_version=rules.settings_version,
        flooding_sources=flooding,
        data_driven_weights=weights,
    )
    bounds = []
    start = since
    while start < until:
        bounds.append((start, min(start + chunk, until)))
        start += chunk
    for done, (start, end) in enumerate(bounds, 1):
        _insert(app=app, rules=rules, window="timestamp", since=start, until=end, flooding=flooding, weights=weights)
        if progress:
            progress(done, len(bounds))
    run.conversions = clickhouse.execute(
        COUNT_SQL, {"app_id": app.id, "since": since, "until": until}, tag="attribution_count"
    ).rows[0][0]
    run.finished_at = timezone.now()
    run.save(update_fields=["conversions", "finished_at"])
    return run


def attribution_follow(*, app: App, now: dt.datetime | None = None) -> AttributionRun | None:
    """Attribute the conversions that arrived since the previous continuous run, once they are
    ATTRIBUTION_SETTLE_SECONDS old (their touches, on another topic, have had time to arrive)."""
    now = now or timezone.now()
    until = now - dt.timedelta(seconds=settings.ATTRIBUTION_SETTLE_SECONDS)
    previous = (
        AttributionRun.objects.filter(app=app, mode=AttributionRun.Mode.FOLLOW, finished_at__isnull=False)
        .order_by("-window_end")
        .first()
    )
    since = previous.window_end if previous else EPOCH
    if until <= since:
        return None
    rules = rules_for(app=app)
    reuse = previous and previous.settings_version == rules.settings_version and now - previous.decided_at < STATS_REUSE
    if reuse:
        flooding, weights, decided_at = previous.flooding_sources, previous.data_driven_weights, previous.decided_at
    else:
        flooding, weights = _period_decisions(app=app, rules=rules, since=until - STATS_PERIOD, until=until)
        decided_at = now
    run = AttributionRun.objects.create(
        app=app,
        mode=AttributionRun.Mode.FOLLOW,
        window_start=since,
        window_end=until,
        settings_version=rules.settings_version,
        flooding_sources=flooding,
        data_driven_weights=weights,
        decided_at=decided_at,
    )
    _insert(app=app, rules=rules, window="inserted_at", since=since, until=until, flooding=flooding, weights=weights)
    run.finished_at = timezone.now()
    run.save(update_fields=["finished_at"])
    return run


def attribution_follow_all(*, apps=None) -> int:
    """One continuous-run step for ``apps`` (default: every active app); returns how many ran."""
    ran = 0
    for app in apps if apps is not None else App.objects.filter(status=App.Status.ACTIVE):
        if attribution_follow(app=app) is not None:
            ran += 1
    return ran
