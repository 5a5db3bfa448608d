"""SQLite's log copied back into the database by a thread of the web process, not by a request.

In WAL mode each commit appends pages to the log (``db.sqlite3-wal``); a checkpoint copies them into
the database file and syncs both (synchronous=NORMAL). Left to SQLite, the commit that takes the
log past ``wal_autocheckpoint`` pages runs the checkpoint before its request answers: at about 2.4
pages a click, one click in a hundred paid for it. Here a daemon thread runs a PASSIVE checkpoint
(it neither waits for nor blocks a writer) every SQLITE_CHECKPOINT_SECONDS on a connection of its
own, and ``wal_autocheckpoint`` (settings) is only the safety net: for processes without the thread
(management commands) and for a burst that outruns it. Only the embedded default uses SQLite; with
PostgreSQL nothing starts.
"""

import logging
import sqlite3
import threading

from core.metrics import CHECKPOINTS

logger = logging.getLogger(__name__)


def _run(path: str, interval: float, stop: threading.Event) -> None:
    connection = sqlite3.connect(path, timeout=20)
    try:
        while not stop.wait(interval):
            try:
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                CHECKPOINTS.labels("done").inc()
            except sqlite3.Error as error:
                CHECKPOINTS.labels("failed").inc()
                logger.warning("SQLite checkpoint failed; the commit past wal_autocheckpoint will run one: %s", error)
    finally:
        connection.close()


def start() -> threading.Event | None:
    """Start the checkpointer when the OLTP database is SQLite; returns the event that stops it."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.sqlite3":
        return None
    stop = threading.Event()
    thread = threading.Thread(
        target=_run,
        args=(str(database["NAME"]), settings.SQLITE_CHECKPOINT_SECONDS, stop),
        name="sqlite-checkpoints",
        daemon=True,
    )
    thread.start()
    return stop
