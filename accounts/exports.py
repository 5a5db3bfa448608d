"""Copies the security log (OLTP, the record of truth) into ClickHouse ``security_events`` in batches."""

import orjson

from core import clickhouse
from core.periodic import PeriodicJob

from .models import SecurityEvent

COLUMNS = ["id", "timestamp", "user_id", "user_email", "action", "resource", "ip", "user_agent", "success", "metadata"]


def security_events_export(*, batch_size: int = 10_000) -> int:
    """Export every event not in ClickHouse yet; returns how many were sent. Safe to run twice."""
    last = clickhouse.execute("SELECT max(id) FROM security_events", tag="security_events.watermark").scalar() or 0
    exported = 0
    while True:
        events = list(SecurityEvent.objects.filter(id__gt=last).order_by("id")[:batch_size])
        if not events:
            return exported
        rows = [
            {
                "id": e.id,
                "timestamp": e.timestamp,
                "user_id": e.user_id,
                "user_email": e.user_email,
                "action": e.action,
                "resource": e.resource,
                "ip": e.ip,
                "user_agent": e.user_agent,
                "success": e.success,
                "metadata": orjson.dumps(e.metadata).decode(),
            }
            for e in events
        ]
        clickhouse.insert(
            "security_events",
            rows,
            columns=COLUMNS,
            tag="security_events.export",
            deduplication_token=f"security_events:{events[0].id}-{events[-1].id}",
        )
        last = events[-1].id
        exported += len(events)


def security_events_job(*, interval_seconds: float = 5.0) -> PeriodicJob:
    return PeriodicJob("security_events_export", lambda stop: security_events_export(), interval_seconds)
