"""The periodic jobs inside the web process.

In the embedded default the web process owns chdb, so the work that writes to ClickHouse runs here,
in threads of this process: draining the bus into ClickHouse, exporting the security log,
attributing new conversions, refreshing the reports' pre-aggregate of attributions, running the
commands that other processes hand over (``core.command_runs``), the pending erasures of data
subjects, and retention (daily). With a ClickHouse server the same jobs run as management commands
instead (``consume_events``, ``export_security_events --follow``, ``run_attribution --follow``,
``refresh_reports --follow``, ``process_subject_requests --follow``, ``apply_retention --apply
--follow``), through the same ``core.periodic`` runner. RUN_BACKGROUND_JOBS chooses.
"""

import threading

_stop: threading.Event | None = None


def jobs() -> list:
    from accounts.exports import security_events_job
    from core.command_runs import command_runs_job
    from dashboard.attributed_daily import refresh_job
    from events.attribution_engine.services import attribution_job
    from events.consumer.runner import consumer_jobs
    from events.retention import retention_job
    from events.subjects.services import subject_requests_job

    return [
        *consumer_jobs(),
        security_events_job(),
        attribution_job(),
        refresh_job(),
        command_runs_job(),
        subject_requests_job(),
        retention_job(),
    ]


def start() -> threading.Event:
    """Start the jobs once per process; returns the event that stops them."""
    from core import periodic

    global _stop
    if _stop is None:
        _stop = threading.Event()
        periodic.start(jobs(), _stop, daemon=True)
    return _stop
