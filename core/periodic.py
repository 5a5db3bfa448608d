"""Periodic jobs: the one way a job that runs again and again is run, whether by the web process's
background threads (the embedded default) or by its management command (``consume_events``,
``run_attribution --follow``, ``export_security_events --follow``).

Each job runs in a thread of its own: a step, then a wait of its interval, until ``stop`` is set. A
step that raises is counted (``unmogrowp_job_failures_total{job}``) and logged with its traceback,
and the job goes on with its next step: what a step did not finish stays where a later step finds it
(uncommitted bus messages, unexported security events, unattributed conversions).
"""

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.metrics import JOB_FAILURES, JOB_LAST_SUCCESS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    step: Callable[[threading.Event], object]  # gets ``stop``, so that a long step can end early
    interval_seconds: float
    close: Callable[[], object] | None = None  # once the job has stopped (e.g. leave a consumer group)


def _loop(job: PeriodicJob, stop: threading.Event) -> None:
    try:
        while not stop.is_set():
            try:
                job.step(stop)
                JOB_LAST_SUCCESS.labels(job.name).set(time.time())
            except Exception:
                JOB_FAILURES.labels(job.name).inc()
                logger.exception("job %s failed; next step in %ss", job.name, job.interval_seconds)
            stop.wait(job.interval_seconds)
    finally:
        if job.close is not None:
            job.close()


def start(jobs: Sequence[PeriodicJob], stop: threading.Event, *, daemon: bool) -> list[threading.Thread]:
    """Run each job in its own thread until ``stop`` is set."""
    threads = [threading.Thread(target=_loop, args=(job, stop), name=f"job-{job.name}", daemon=daemon) for job in jobs]
    for thread in threads:
        thread.start()
    return threads


def run_until_signalled(jobs: Sequence[PeriodicJob]) -> None:
    """A management command's loop: the jobs until SIGTERM or SIGINT, then each finishes its step."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    threads = start(jobs, stop, daemon=False)
    while any(thread.is_alive() for thread in threads):
        for thread in threads:
            thread.join(timeout=0.5)
