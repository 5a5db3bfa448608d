"""Management commands beside a running server, in the embedded default.

chdb lets one process own the ClickHouse data directory: while ``make run`` serves, a command that
needs ClickHouse (``run_attribution``, ``replay_dead_letters``, ``migrate_clickhouse``...) cannot open
it. Such a command (a ``ServerCommand``) then hands itself to the server instead: it records a
``CommandRun`` (command and arguments) in the OLTP database, the server's background job
(``command_runs_job``) runs it with ``call_command`` and writes its output into the row as it goes,
and the submitting process prints that output and exits with the command's status, as if it had run
the command itself. With a ClickHouse server, or with no server running, commands run in their own
process as usual.
"""

import io
import os
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, transaction
from django.utils import timezone

from core import clickhouse
from core.errors import ApplicationError
from core.periodic import PeriodicJob

from .models import CommandRun

# How long a submitted command may wait for the server to take it.
PICKUP_SECONDS = 20.0
# The owner of the store refreshes its mark every step of its job: an older mark is a dead runner's.
MARK_FRESH_SECONDS = 5.0
FOLLOW_POLL_SECONDS = 0.2
# How often the output of a running command is written back to its row.
SAVE_EVERY_SECONDS = 0.3


class ServerCommand(BaseCommand):
    """A command that needs ClickHouse: run here, or by the server that owns the embedded store."""

    _argv: list[str] | None = None

    def can_hand_over(self, options: dict) -> bool:
        """False for a mode that only makes sense in its own process (e.g. one that runs until stopped)."""
        return True

    def run_from_argv(self, argv):
        self._argv = argv[2:]  # only a command started from a shell is handed over, never call_command
        super().run_from_argv(argv)

    def execute(self, *args, **options):
        if self._argv is not None and _store_owned_elsewhere():
            if not self.can_hand_over(options):
                raise CommandError(
                    "The embedded ClickHouse store is owned by another process (the server, which runs this "
                    "continuously itself). Stop it first, or set CLICKHOUSE_URL."
                )
            name = type(self).__module__.rsplit(".", 1)[-1]
            return follow(submit(command=name, arguments=self._argv), stdout=self.stdout, stderr=self.stderr)
        try:
            return super().execute(*args, **options)
        except ApplicationError as error:  # a business error (an unknown --app...) is the command's message
            raise CommandError(error.message) from error


def _store_owned_elsewhere() -> bool:
    """True when another process owns the embedded store and takes commands; a CommandError that names
    the directory and the process when it owns it but takes none."""
    if settings.CLICKHOUSE_URL:
        return False
    try:
        clickhouse.execute("SELECT 1", tag="command.probe")
    except clickhouse.EmbeddedStoreLocked as locked:
        if _owner_takes_commands():
            return True
        raise CommandError(str(locked)) from None
    return False


def _marks() -> tuple[Path, Path]:
    """The embedded store's lock file (its owner's pid) and the mark its command runner keeps fresh."""
    store = Path(settings.CLICKHOUSE_EMBEDDED_PATH)
    return store.with_name(f"{store.name}.lock"), store.with_name(f"{store.name}.commands")


def _owner_takes_commands() -> bool:
    lock, mark = _marks()
    try:
        fresh = time.time() - mark.stat().st_mtime < MARK_FRESH_SECONDS
        return fresh and mark.read_text() == lock.read_text().strip()
    except FileNotFoundError:
        return False


def _mark_taking_commands() -> None:
    """Tell other processes that this one, the store's owner, runs the commands they hand over."""
    _, mark = _marks()
    pid = str(os.getpid())
    try:
        if mark.read_text() == pid:
            os.utime(mark)
            return
    except FileNotFoundError:
        pass
    mark.write_text(pid)


def submit(*, command: str, arguments: list[str]) -> CommandRun:
    return CommandRun.objects.create(command=command, arguments=arguments, tty=sys.stderr.isatty())


def follow(run: CommandRun, *, stdout, stderr) -> None:
    """Print the run's output as it comes, until it ends; raise CommandError if it failed."""
    stderr.write(f"The server owns the embedded ClickHouse store: command run #{run.pk} is handed to it.")
    shown, submitted = 0, time.monotonic()
    while True:
        run.refresh_from_db()
        if len(run.output) > shown:
            stdout.write(run.output[shown:], ending="")
            stdout.flush()
            shown = len(run.output)
        if run.status == CommandRun.Status.SUCCEEDED:
            return
        if run.status == CommandRun.Status.FAILED:
            raise CommandError(run.error or "The command failed.")
        if run.status == CommandRun.Status.PENDING and time.monotonic() - submitted > PICKUP_SECONDS:
            taken = CommandRun.objects.filter(pk=run.pk, status=CommandRun.Status.PENDING).update(
                status=CommandRun.Status.ABANDONED, finished_at=timezone.now()
            )
            if taken:
                raise CommandError(
                    f"Nobody took the command within {PICKUP_SECONDS:.0f}s: the process that owns the embedded "
                    "ClickHouse store stopped taking commands. Run it again once that process is gone."
                )
        time.sleep(FOLLOW_POLL_SECONDS)


class _RunOutput(io.TextIOBase):
    """A command's stdout and stderr, written back to its row every SAVE_EVERY_SECONDS (and at the end)."""

    def __init__(self, run: CommandRun):
        self.run = run
        self.parts: list[str] = []
        self.saved_at = time.monotonic()
        self.lock = threading.Lock()

    def isatty(self) -> bool:  # progress bars draw themselves as the submitter's terminal would
        return self.run.tty

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self.lock:
            self.parts.append(text)
            if time.monotonic() - self.saved_at >= SAVE_EVERY_SECONDS:
                self.save()
        return len(text)

    def save(self) -> None:
        CommandRun.objects.filter(pk=self.run.pk).update(output="".join(self.parts))
        self.saved_at = time.monotonic()


def _take() -> CommandRun | None:
    with transaction.atomic():
        run = CommandRun.objects.filter(status=CommandRun.Status.PENDING).order_by("id").first()
        if run is None:
            return None
        taken = CommandRun.objects.filter(pk=run.pk, status=CommandRun.Status.PENDING).update(
            status=CommandRun.Status.RUNNING, started_at=timezone.now()
        )
    return run if taken else None


def run_pending(stop: threading.Event | None = None) -> int:
    """Run the commands handed over, oldest first; returns how many ran."""
    _mark_taking_commands()
    ran = 0
    while not (stop is not None and stop.is_set()):
        run = _take()
        if run is None:
            break
        output = _RunOutput(run)
        status, error = CommandRun.Status.SUCCEEDED, ""
        try:
            call_command(run.command, *run.arguments, stdout=output, stderr=output)
        except CommandError as failure:
            status, error = CommandRun.Status.FAILED, str(failure)
        except Exception as failure:  # the submitter shows it; the server logs it with its traceback
            status, error = CommandRun.Status.FAILED, f"{type(failure).__name__}: {failure}"
            raise
        finally:
            with output.lock:
                output.save()
            CommandRun.objects.filter(pk=run.pk).update(status=status, error=error, finished_at=timezone.now())
            close_old_connections()
        ran += 1
    return ran


def command_runs_job() -> PeriodicJob:
    return PeriodicJob("command_runs", run_pending, interval_seconds=0.5)
