"""The restore drill (deploy/restore-drill.sh), in the configuration the tests run in — SQLite, or
PostgreSQL (the services configuration) — with chdb: events stored, one pending on the bus, a dead
letter that fits now, the security log; backed up while nothing runs, restored into empty stores
(every table checked against the backup), the dead letter replayed and stored there."""

import datetime as dt
import json
import subprocess
import sys
import uuid

import msgspec
import pytest
from django.conf import settings
from django.db import connection

from core import clickhouse
from events.bus import Delivery, topics
from events.consumer.dead_letters import store as dead_letter
from tests.conftest import PROJECT_DIR, clean_environment, database_url, run_manage
from tests.ingestion import app_with_key, count, post_events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def drill_database():
    """The scratch OLTP database: SQLite in the drill's directory, or a new PostgreSQL database."""
    if connection.vendor != "postgresql":
        yield None
        return
    name = f"{connection.settings_dict['NAME']}_drill"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield database_url().rsplit("/", 1)[0] + f"/{name}"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_restore_drill_restores_both_stores_and_replays_the_dead_letters(
    store_all, clickhouse_test_store, tmp_path, drill_database
):
    app, raw_key = app_with_key()
    assert post_events(raw_key, [{"event_name": "install"}, {"event_name": "open"}]).status_code == 202
    store_all(until=lambda: count("events", app.id) == 2)
    # A row ClickHouse refused once (the reason is history): it fits now, so the replay stores it.
    now = dt.datetime.now(dt.UTC)
    fits = {
        "app_id": str(app.id),
        "event_id": str(uuid.uuid4()),
        "event_name": "purchase",
        "timestamp": now.isoformat(),
        "received_at": now.isoformat(),
    }
    delivery = Delivery(topics.EVENTS, "k", b"", 0, 1)
    dead_letter(topics.EVENTS, [(delivery, msgspec.json.encode(fits), "ClickHouse refused the row: Timeout")])
    # Still on the bus when the backup is taken (the outbox; Kafka keeps its own copy).
    assert post_events(raw_key, [{"event_name": "session_start"}]).status_code == 202
    settings_var = clickhouse_test_store

    clickhouse.reset_backend()  # the drill's commands run in processes of their own, on this store
    live = {
        "VAR_DIR": str(settings_var),
        "CLICKHOUSE_DATABASE": settings.CLICKHOUSE_DATABASE,
        "DATABASE_URL": database_url(),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "PYTHON": sys.executable,
    }
    arguments = [str(tmp_path / "drill")] + ([drill_database] if drill_database else [])
    done = subprocess.run(
        ["bash", "deploy/restore-drill.sh", *arguments],
        cwd=PROJECT_DIR,
        env=clean_environment(live),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "restore drill passed" in done.stdout
    assert "as in the backup" in done.stdout

    drill = {"VAR_DIR": str(tmp_path / "drill"), "BACKUP_DIR": str(tmp_path / "backups")}
    if drill_database:
        drill["DATABASE_URL"] = drill_database
    script = f"""
import json
from apps_registry.models import App
from core import clickhouse
rows = clickhouse.execute("SELECT event_name FROM events WHERE app_id = '{app.id}' ORDER BY event_name", tag="t").rows
replayed = clickhouse.execute(
    "SELECT count() FROM dead_letters FINAL WHERE replayed_at IS NOT NULL AND position(payload, '{app.id}') > 0",
    tag="t",
).scalar()
found = {{"names": [name for (name,) in rows], "replayed": replayed, "app": App.objects.filter(pk="{app.id}").exists()}}
print(json.dumps(found))
"""
    checked = run_manage("shell", "-c", script, env=drill)
    assert checked.returncode == 0, checked.stderr
    restored = json.loads(checked.stdout.strip().splitlines()[-1])
    pending = ["session_start"] if not settings.KAFKA_BOOTSTRAP_SERVERS else []
    assert restored == {"names": sorted(["install", "open", "purchase", *pending]), "replayed": 1, "app": True}


def test_a_restore_refuses_stores_that_hold_anything(tmp_path):
    done = run_manage("migrate", "--no-input", env={"VAR_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    (tmp_path / "backup").mkdir()
    manifest = {
        "oltp": {"vendor": "sqlite", "file": "oltp.sqlite3", "rows": {}},
        "clickhouse": {"database": "x", "rows": {}},
    }
    (tmp_path / "backup" / "manifest.json").write_text(json.dumps(manifest))
    refused = run_manage("restore_stores", str(tmp_path / "backup"), env={"VAR_DIR": str(tmp_path)})
    assert refused.returncode != 0 and "not empty" in refused.stderr
