"""Report queries over ClickHouse. Values travel as parameters; the app id is always in the WHERE."""

import datetime as dt
import uuid

from attribution import clickhouse

# Each metric fragment is written once and reused by the reports.
EVENTS = "count()"
ACTIVE_USERS = "uniqExactIf(user_id, user_id != '')"
INSTALLS = "countIf(event_name = 'install')"
REVENUE = "sum(revenue)"
PURCHASERS = "uniqExactIf(user_id, event_name = 'purchase' AND user_id != '')"


def dashboard_stats(*, app_id: uuid.UUID, since: dt.datetime) -> dict:
    result = clickhouse.execute(
        f"SELECT {EVENTS}, {ACTIVE_USERS}, {INSTALLS}, {REVENUE}, {PURCHASERS} "
        "FROM events FINAL WHERE app_id = {app_id:UUID} AND timestamp >= {since:DateTime64(3, 'UTC')}",
        {"app_id": app_id, "since": since},
        tag="dashboard.stats",
    )
    events, users, installs, revenue, purchasers = result.rows[0]
    return {
        "totalEvents": events,
        "activeUsers": users,
        "installs": installs,
        "revenue": str(revenue),
        "conversionRate": round(purchasers / users, 4) if users else 0.0,
    }


def events_over_time(*, app_id: uuid.UUID, since: dt.datetime) -> list[dict]:
    result = clickhouse.execute(
        "SELECT toStartOfDay(timestamp) AS day, event_name, count() "
        "FROM events FINAL WHERE app_id = {app_id:UUID} AND timestamp >= {since:DateTime64(3, 'UTC')} "
        "GROUP BY day, event_name ORDER BY day, event_name",
        {"app_id": app_id, "since": since},
        tag="analytics.events_over_time",
    )
    return [{"day": day.date().isoformat(), "event": name, "count": count} for day, name, count in result.rows]
