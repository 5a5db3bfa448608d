"""Running the engine: a window of conversion times, a recompute of history, or the continuous run.

A run matches conversions to touches into a scratch table of its own (``sql.insert_candidates``),
decides what holds for the whole period (click-flooding sources, data-driven weights), then writes one
row per conversion, every model's credits in it, into ``attributions`` (``sql.insert_results``) and
drops its scratch. ``attributions`` keeps the newest row per (app, conversion), so running a window
again — or recomputing it after the settings changed — replaces results instead of adding to them.
"""

import datetime as dt
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from apps_registry.models import App
from apps_registry.services import settings_current
from core import clickhouse
from core.clickhouse.errors import ClickHouseError
from core.metrics import ATTRIBUTION_LAG
from core.periodic import PeriodicJob
from events.attribution_engine import datadriven, fraud, sql
from events.attribution_engine.rules import Rules
from events.models import AttributionRun

logger = logging.getLogger(__name__)

# Flooding and the data-driven weights describe a source over a period, never over a few minutes.
STATS_PERIOD = dt.timedelta(days=7)
# The continuous run reuses the period decisions of its previous run for this long.
STATS_REUSE = dt.timedelta(minutes=10)
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
# The continuous run records every step (one a minute); older records than this are dropped.
FOLLOW_HISTORY = dt.timedelta(days=7)
# The longest window of conversion time one run takes: its scratch table lives in memory, so long
# histories are attributed period by period; each run also reads the touches of one lookback before
# its window, so shorter periods would read touches more often.
RUN_PERIOD = dt.timedelta(days=31)
# A scratch table older than this belongs to a run that died (a statement times out long before).
STALE_SCRATCH = dt.timedelta(days=1)

COUNT_SQL = """
SELECT count() FROM attributions FINAL
WHERE app_id = {app_id:UUID}
  AND conversion_time >= {since:DateTime64(3, 'UTC')} AND conversion_time < {until:DateTime64(3, 'UTC')}
"""

Progress = Callable[[int, int, AttributionRun], None]


def rules_for(*, app: App) -> Rules:
    return Rules.of(app, settings_current(app=app))


@contextmanager
def _scratch() -> Iterator[str]:
    """A scratch table for one run, dropped after it. Its name carries its creation time, so that a
    later run drops what a run that died (SIGKILL, power loss) left behind."""
    _drop_stale_scratch()
    scratch = f"{sql.SCRATCH_PREFIX}{int(time.time())}_{secrets.token_hex(6)}"
    clickhouse.execute(sql.CREATE_SCRATCH, {"scratch": scratch}, tag="attribution_scratch_create")
    try:
        yield scratch
    finally:
        try:
            clickhouse.execute(sql.DROP_SCRATCH, {"scratch": scratch}, tag="attribution_scratch_drop")
        except ClickHouseError:
            # Never hide the run's own error behind this one; a later run drops it.
            logger.warning("attribution scratch table %s left behind", scratch)


def _drop_stale_scratch() -> None:
    cutoff = time.time() - STALE_SCRATCH.total_seconds()
    for (name,) in clickhouse.execute(sql.SCRATCH_TABLES, tag="attribution_scratch_list").rows:
        created = name.removeprefix(sql.SCRATCH_PREFIX).split("_")[0]
        if created.isdigit() and int(created) < cutoff:
            clickhouse.execute(sql.DROP_SCRATCH, {"scratch": name}, tag="attribution_scratch_drop")


def _run(statement: str, params: dict, tag: str) -> None:
    clickhouse.execute(statement, params, tag=tag, timeout=settings.ATTRIBUTION_QUERY_TIMEOUT_SECONDS)


def _match(*, app: App, rules: Rules, scratch: str, window: str, since: dt.datetime, until: dt.datetime) -> None:
    """Match the conversions chosen by ``window`` in [since, until) into the scratch table."""
    params = sql.parameters(app_id=app.id, rules=rules, since=since, until=until, window=window, scratch=scratch)
    _run(sql.insert_candidates(window), params, "attribution_match")


def _decide_period(
    *, app: App, rules: Rules, scratch: str, since, until, timings: dict | None = None
) -> tuple[list[str], dict]:
    with _timed(timings, "flooding"):
        flooding = fraud.flooding_sources(app_id=app.id, rules=rules, scratch=scratch, since=since, until=until)
    with _timed(timings, "data_driven"):
        weights = datadriven.channel_weights(app_id=app.id, since=since, until=until)
    return flooding, weights


@contextmanager
def _timed(timings: dict | None, step: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    if timings is not None:
        timings[step] = round(time.perf_counter() - started, 2)


def _write(*, app: App, rules: Rules, scratch: str, since, until, flooding, weights) -> None:
    params = sql.parameters(
        app_id=app.id,
        rules=rules,
        since=since,
        until=until,
        scratch=scratch,
        flood_sources=flooding,
        data_driven_weights=weights,
    )
    _run(sql.insert_results(), params, "attribution_write")


def attribution_run(
    *,
    app: App,
    since: dt.datetime,
    until: dt.datetime,
    recompute: bool = False,
    timings: dict | None = None,
) -> AttributionRun:
    """Attribute every conversion with ``since <= time < until`` (at most RUN_PERIOD) under the app's
    current settings. The period decisions cover at least the STATS_PERIOD before ``until``.
    ``timings`` gets the seconds of each step (match, flooding, data_driven, write)."""
    if until <= since:
        raise ValueError("The window is empty: --since must be before --until.")
    if until - since > RUN_PERIOD:
        raise ValueError(f"One run takes at most {RUN_PERIOD.days} days: use attribution_history.")
    rules = rules_for(app=app)
    period_start = min(since, until - STATS_PERIOD)
    started_at = timezone.now()
    with _scratch() as scratch:
        with _timed(timings, "match"):
            _match(
                app=app,
                rules=rules,
                scratch=scratch,
                window="timestamp",
                since=period_start,
                until=until,
            )
        flooding, weights = _decide_period(
            app=app, rules=rules, scratch=scratch, since=period_start, until=until, timings=timings
        )
        with _timed(timings, "write"):
            _write(
                app=app,
                rules=rules,
                scratch=scratch,
                since=since,
                until=until,
                flooding=flooding,
                weights=weights,
            )
    conversions = clickhouse.execute(
        COUNT_SQL, {"app_id": app.id, "since": since, "until": until}, tag="attribution_count"
    ).scalar()
    return AttributionRun.objects.create(
        app=app,
        mode=AttributionRun.Mode.RECOMPUTE if recompute else AttributionRun.Mode.WINDOW,
        window_start=since,
        window_end=until,
        settings_version=rules.settings_version,
        conversions=conversions,
        flooding_sources=flooding,
        data_driven_weights=weights,
        decided_at=started_at,
        started_at=started_at,
        finished_at=timezone.now(),
    )


def attribution_history(
    *, app: App, since: dt.datetime, until: dt.datetime, recompute: bool = False, progress: Progress | None = None
) -> list[AttributionRun]:
    """``attribution_run`` over [since, until) in periods of at most RUN_PERIOD, oldest first: memory
    stays bounded on long histories, and each period decides its own flooding sources and data-driven
    weights. ``progress(done, total, run)`` after each period."""
    if until <= since:
        raise ValueError("The window is empty: --since must be before --until.")
    bounds, start = [], since
    while start < until:
        bounds.append((start, min(start + RUN_PERIOD, until)))
        start = bounds[-1][1]
    runs = []
    for done, (start, end) in enumerate(bounds, 1):
        runs.append(attribution_run(app=app, since=start, until=end, recompute=recompute))
        if progress:
            progress(done, len(bounds), runs[-1])
    return runs


def attribution_follow(*, app: App, now: dt.datetime | None = None) -> AttributionRun | None:
    """Attribute the conversions that arrived since the previous continuous run, once they are
    ATTRIBUTION_SETTLE_SECONDS old (their touches, on another topic, have had time to arrive)."""
    now = now or timezone.now()
    until = now - dt.timedelta(seconds=settings.ATTRIBUTION_SETTLE_SECONDS)
    previous = AttributionRun.objects.filter(app=app, mode=AttributionRun.Mode.FOLLOW).order_by("-window_end").first()
    since = previous.window_end if previous else EPOCH
    if until <= since:
        return None
    rules = rules_for(app=app)
    reuse = previous and previous.settings_version == rules.settings_version and now - previous.decided_at < STATS_REUSE
    with _scratch() as scratch:
        _match(app=app, rules=rules, scratch=scratch, window="inserted_at", since=since, until=until)
        conversions = clickhouse.execute(
            "SELECT count() FROM {scratch:Identifier}", {"scratch": scratch}, tag="attribution_count"
        ).scalar()
        if reuse:
            flooding, weights, decided_at = previous.flooding_sources, previous.data_driven_weights, previous.decided_at
        else:
            with _scratch() as period_id:
                period_start = until - STATS_PERIOD
                _match(app=app, rules=rules, scratch=period_id, window="timestamp", since=period_start, until=until)
                flooding, weights = _decide_period(
                    app=app, rules=rules, scratch=period_id, since=period_start, until=until
                )
            decided_at = now
        _write(
            app=app,
            rules=rules,
            scratch=scratch,
            since=EPOCH,
            until=until,
            flooding=flooding,
            weights=weights,
        )
        if conversions:
            logger.info(
                "attributed %d conversion(s) of app %s from request(s) %s",
                conversions,
                app.id,
                ",".join(_requests_of(app=app, scratch=scratch)) or "-",
            )
    AttributionRun.objects.filter(
        app=app, mode=AttributionRun.Mode.FOLLOW, window_end__lt=until - FOLLOW_HISTORY
    ).delete()
    return AttributionRun.objects.create(
        app=app,
        mode=AttributionRun.Mode.FOLLOW,
        window_start=since,
        window_end=until,
        settings_version=rules.settings_version,
        conversions=conversions,
        flooding_sources=flooding,
        data_driven_weights=weights,
        decided_at=decided_at,
        started_at=now,
        finished_at=timezone.now(),
    )


# The continuous run's log line names the requests that sent its conversions (core.logs), up to this many.
LOGGED_REQUESTS = 100


def _requests_of(*, app: App, scratch: str) -> list[str]:
    return clickhouse.execute(
        "SELECT arraySort(groupUniqArray({limit:UInt32})(request_id)) FROM events "
        "WHERE app_id = {app_id:UUID} AND event_id IN (SELECT conversion_id FROM {scratch:Identifier}) "
        "AND request_id != ''",
        {"app_id": app.id, "scratch": scratch, "limit": LOGGED_REQUESTS},
        tag="attribution_requests",
    ).scalar()


def attribution_follow_all(*, apps=None) -> int:
    """One continuous-run step for ``apps`` (default: every active app); returns how many ran. Exports how
    far the oldest app's cursor is behind (``unmogrowp_attribution_lag_seconds``)."""
    ran = 0
    apps = apps if apps is not None else App.objects.filter(status=App.Status.ACTIVE)
    for app in apps:
        if attribution_follow(app=app) is not None:
            ran += 1
    cursors = (
        AttributionRun.objects.filter(app__in=apps, mode=AttributionRun.Mode.FOLLOW)
        .values("app")
        .annotate(cursor=Max("window_end"))
        .values_list("cursor", flat=True)
    )
    oldest = min(cursors, default=None)
    if oldest is not None:
        ATTRIBUTION_LAG.set((timezone.now() - oldest).total_seconds())
    return ran


def attribution_job(*, apps=None) -> PeriodicJob:
    """The continuous run as a periodic job, for ``apps`` (a queryset; default: every active app)."""
    return PeriodicJob(
        "attribution",
        lambda stop: attribution_follow_all(apps=apps.all() if apps is not None else None),
        settings.ATTRIBUTION_INTERVAL_SECONDS,
    )
