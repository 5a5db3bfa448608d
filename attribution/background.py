"""Periodic jobs inside the web process.

In the embedded default the web process owns chdb, so work that writes to ClickHouse runs here, in
one daemon thread: draining the bus into ClickHouse, exporting the security log and attributing new
conversions. With a ClickHouse server the same work runs as management commands instead
(``consume_events``, ``export_security_events --follow``, ``run_attribution --follow``);
RUN_BACKGROUND_JOBS chooses.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter

logger = logging.getLogger(__name__)
JOB_FAILURES = Counter("unmogrowp_background_job_failures_total", "Background job runs that raised.", ["job"])


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[], object]
    interval_seconds: float


def _jobs() -> list[Job]:
    from django.conf import settings

    from accounts.exports import security_events_export
    from events.bus import get_bus
    from events.consumer import TopicConsumer, consumer_group
    from events.engine.services import attribution_follow_all
    from events.topics import TABLES

    bus = get_bus()
    drains = [TopicConsumer(bus.subscribe(topic, consumer_group(topic)), topic) for topic in sorted(TABLES)]
    return [
        *(Job(f"drain:{c.topic}", lambda c=c: c.drain(max_seconds=2.0), 0.2) for c in drains),
        Job("security_events_export", security_events_export, 5.0),
        Job("attribution", attribution_follow_all, settings.ATTRIBUTION_INTERVAL_SECONDS),
    ]


def _loop(jobs: list[Job], stop: threading.Event) -> None:
    next_run = {job.name: 0.0 for job in jobs}
    while not stop.is_set():
        now = time.monotonic()
        for job in jobs:
            if now < next_run[job.name]:
                continue
            try:
                job.run()
            except Exception:
                JOB_FAILURES.labels(job.name).inc()
                logger.exception("background job %s failed; retrying in %ss", job.name, job.interval_seconds)
            next_run[job.name] = time.monotonic() + job.interval_seconds
        stop.wait(0.5)


_started: threading.Event | None = None


def start() -> threading.Event:
    """Start the jobs once per process; returns the event that stops them."""
    global _started
    if _started is None:
        _started = threading.Event()
        threading.Thread(target=_loop, args=(_jobs(), _started), name="background-jobs", daemon=True).start()
    return _started
