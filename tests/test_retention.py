"""Retention: with rows in old partitions, the dry run lists what is past each data class's
retention, and the real run removes exactly that — whole old months dropped, the rows before the
cutoff deleted from the month it falls in, everything newer kept — in ClickHouse and in the OLTP
security log (on PostgreSQL through its append-only trigger)."""

import datetime as dt
import uuid

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from accounts.models import SecurityEvent
from core import clickhouse
from events.retention import cutoff, retention_apply, retention_plan

pytestmark = pytest.mark.django_db(transaction=True)

NOW = timezone.now().replace(microsecond=0)
ANCIENT = dt.datetime(2001, 3, 15, tzinfo=dt.UTC)  # a month no other test writes to


def _times(data_class: str) -> dict[str, dt.datetime]:
    edge = cutoff(data_class, NOW)
    return {
        "ancient": ANCIENT,
        "just_before": edge - dt.timedelta(seconds=1),
        "just_after": edge + dt.timedelta(seconds=1),
        "recent": NOW - dt.timedelta(days=1),
    }


def _insert(table: str, app_id: uuid.UUID, data_class: str) -> None:
    rows = []
    for label, when in _times(data_class).items():
        key = uuid.uuid4()
        if table == "events":
            rows.append(
                {"app_id": app_id, "event_id": key, "event_name": label, "timestamp": when, "received_at": when}
            )
        elif table == "touchpoints":
            rows.append(
                {"app_id": app_id, "touch_id": key, "touch_type": label, "timestamp": when, "received_at": when}
            )
        elif table == "attributions":
            rows.append({"app_id": app_id, "conversion_id": key, "conversion_name": label, "conversion_time": when})
        else:
            rows.append({"dead_letter_id": key, "topic": str(app_id), "reason": label, "failed_at": when})
    clickhouse.insert(table, rows, columns=list(rows[0]), tag="test.retention")


LABEL = {
    "events": "event_name",
    "touchpoints": "touch_type",
    "attributions": "conversion_name",
    "dead_letters": "reason",
}
CLASS = {
    "events": "raw_events",
    "touchpoints": "touchpoints",
    "attributions": "attributions",
    "dead_letters": "dead_letters",
}


def _labels(table: str, app_id: uuid.UUID) -> set[str]:
    where = "topic = {app:String}" if table == "dead_letters" else "app_id = {app:UUID}"
    return {
        row[0]
        for row in clickhouse.execute(
            f"SELECT {LABEL[table]} FROM {table} WHERE {where}", {"app": str(app_id)}, tag="test.retention"
        ).rows
    }


def test_the_dry_run_lists_and_the_real_run_removes_exactly_what_is_past_retention(settings, capsys):
    settings.RETENTION_DAYS = {**settings.RETENTION_DAYS, "dead_letters": 90, "security_log": 365}
    app_id = uuid.uuid4()
    for table, data_class in CLASS.items():
        _insert(table, app_id, data_class)
    log_times = _times("security_log")
    for label, when in log_times.items():
        SecurityEvent.objects.create(action="login_ok", success=True, user_email=f"{label}@x", timestamp=when)

    plan = retention_plan(now=NOW)
    by_store = {expired.store: expired for expired in plan}
    for table, data_class in CLASS.items():
        expired = by_store[table]
        assert expired.partitions.get("200103", 0) >= 1, table  # the ancient month, whole
        month = f"{cutoff(data_class, NOW):%Y%m}"
        assert expired.boundary.get(month, 0) >= 1 or expired.partitions.get(month, 0) >= 1, table
    assert by_store["oltp:security_log"].rows >= 2
    # The command's dry run says the same and removes nothing.
    call_command("apply_retention")
    out = capsys.readouterr().out
    assert "events (raw_events, 730 days" in out and "partition 200103 whole" in out and "dry run" in out
    assert all(_labels(table, app_id) == set(_times(CLASS[table])) for table in CLASS)

    retention_apply(plan)

    for table in CLASS:
        assert _labels(table, app_id) == {"just_after", "recent"}, table
    emails = set(
        SecurityEvent.objects.filter(user_email__in=[f"{label}@x" for label in log_times]).values_list(
            "user_email", flat=True
        )
    )
    assert emails == {"just_after@x", "recent@x"}
    assert not any(expired.rows for expired in retention_plan(now=NOW) if expired.store in CLASS)


def test_the_security_log_refuses_any_other_delete():
    event = SecurityEvent.objects.create(action="login_ok", success=True, timestamp=NOW - dt.timedelta(days=400))
    with pytest.raises(PermissionError):
        SecurityEvent.objects.filter(pk=event.pk).delete()
    if connection.vendor != "postgresql":
        return
    # Without the retention cutoff declared, the trigger refuses raw SQL too.
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM accounts_securityevent WHERE id = %s", [event.pk])
