"""Retention per data class: nothing older than its class's RETENTION_*_DAYS stays.

Each table of ``events.personal_data`` is partitioned by month of its time column. A month wholly
past the cutoff is dropped (a partition drop: instant, and the files are gone); in the month the
cutoff falls in, the rows before it are deleted (a lightweight DELETE: hidden at once, removed with
the month's partition at the latest). The security log's record of truth, in the OLTP database, loses
its rows past the cutoff too (``accounts.audit.security_events_expire``). ClickHouse TTLs are not
used: the clause is fixed in a migration, while retention is a setting, and rows expire at merge
time, so what goes could not be listed beforehand.

``retention_plan`` lists what is past retention (the dry run of ``manage.py apply_retention``);
``retention_apply`` removes exactly that. The web process's ``retention`` job applies it daily in
the embedded default; ``apply_retention --apply --follow`` does with a ClickHouse server.
"""

import datetime as dt
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from accounts.audit import security_events_expire, security_events_expiring
from core import clickhouse
from core.clickhouse.topology import mutated
from core.metrics import RETENTION_REMOVED
from core.periodic import PeriodicJob
from events.personal_data import SECURITY_LOG, TABLES, PersonalTable

_PARTITION = re.compile(r"^\d{6}$")  # toYYYYMM


@dataclass
class Expired:
    """What is past retention in one store."""

    store: str  # a ClickHouse table, or "oltp:security_log"
    data_class: str
    cutoff: dt.datetime
    partitions: dict[str, int] = field(default_factory=dict)  # partition id -> rows (all past the cutoff)
    boundary: dict[str, int] = field(default_factory=dict)  # partition id -> its rows past the cutoff

    @property
    def rows(self) -> int:
        return sum(self.partitions.values()) + sum(self.boundary.values())


def cutoff(data_class: str, now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(days=settings.RETENTION_DAYS[data_class])


def _expired_in(table: PersonalTable, now: dt.datetime) -> Expired:
    expired = Expired(table.name, table.data_class, cutoff(table.data_class, now))
    column = table.time_column
    result = clickhouse.execute(
        f"SELECT _partition_id, countIf({column} < {{cutoff:DateTime64(3, 'UTC')}}), count() FROM {table.name} "
        f"WHERE toYYYYMM({column}) <= toYYYYMM({{cutoff:DateTime64(3, 'UTC')}}) GROUP BY _partition_id",
        {"cutoff": expired.cutoff},
        tag=f"retention.plan.{table.name}",
    )
    for partition, old, total in sorted(result.rows):
        if not _PARTITION.match(partition):
            raise ValueError(f"{table.name}: partition {partition!r} is not a month (toYYYYMM)")
        if old == total:
            expired.partitions[partition] = old
        elif old:
            expired.boundary[partition] = old
    return expired


def retention_plan(*, now: dt.datetime | None = None) -> list[Expired]:
    """What every store holds past its data class's retention, at ``now``."""
    now = now or timezone.now()
    plan = [_expired_in(table, now) for table in TABLES]
    security_log = Expired("oltp:security_log", SECURITY_LOG, cutoff(SECURITY_LOG, now))
    if rows := security_events_expiring(before=security_log.cutoff):
        security_log.boundary["all"] = rows
    return [*plan, security_log]


def retention_apply(plan: list[Expired]) -> int:
    """Remove what ``plan`` lists (rows that came in since are left alone); returns the rows removed."""
    removed = 0
    for expired in plan:
        if expired.store == "oltp:security_log":
            gone = security_events_expire(before=expired.cutoff) if expired.rows else 0
            RETENTION_REMOVED.labels(expired.store).inc(gone)
            removed += gone
            continue
        table = next(t for t in TABLES if t.name == expired.store)
        for partition in expired.partitions:
            clickhouse.execute(
                f"ALTER TABLE {mutated(table.name)} DROP PARTITION ID '{partition}'",
                tag=f"retention.drop.{table.name}",
            )
        for partition in expired.boundary:
            clickhouse.execute(
                f"DELETE FROM {mutated(table.name)} IN PARTITION ID '{partition}' "
                f"WHERE {table.time_column} < {{cutoff:DateTime64(3, 'UTC')}}",
                {"cutoff": expired.cutoff},
                tag=f"retention.delete.{table.name}",
                timeout=3600,
            )
        RETENTION_REMOVED.labels(expired.store).inc(expired.rows)
        removed += expired.rows
    return removed


def retention_job() -> PeriodicJob:
    return PeriodicJob("retention", lambda stop: retention_apply(retention_plan()), interval_seconds=24 * 3600)
