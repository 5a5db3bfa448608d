"""Report queries over ClickHouse. Values travel as parameters; the app id is always in the WHERE."""

import datetime as dt
import uuid

from core import clickhouse
from events.attribution_engine import sql
from events.attribution_engine.rules import MODELS

from .aggregates import activity_source, people_source
from .credits import ZERO_UUID
from .metrics import derive, select


def dashboard_stats(*, app_id: uuid.UUID, since: dt.datetime, until: dt.datetime) -> dict:
    source, params = activity_source(since=since, until=until, time_zone="UTC")
    people, same = people_source(since=since, until=until, time_zone="UTC")
    params = {**params, **same, "app_id": app_id, "since": since, "until": until}
    result = clickhouse.execute(
        f"SELECT totalEvents, identifiedUsers, revenueAsSent, purchasers FROM "
        f"(SELECT sum(events) AS totalEvents, {select('revenueAsSent')} FROM {source}) AS counted CROSS JOIN "
        f"(SELECT {select('identifiedUsers', 'purchasers')} FROM {people}) AS people",
        params,
        tag="dashboard.stats",
    )
    installs = clickhouse.execute(
        f"SELECT {select('installs')} FROM attributions FINAL "
        "WHERE app_id = {app_id:UUID} AND conversion_time >= {since:DateTime64(3, 'UTC')} "
        "AND conversion_time < {until:DateTime64(3, 'UTC')}",
        params,
        tag="dashboard.stats_installs",
    ).scalar()
    events, users, revenue, purchasers = result.rows[0]
    rate = derive({"purchasers": purchasers, "identifiedUsers": users}, "conversionRate")["conversionRate"]
    return {
        "totalEvents": events,
        "activeUsers": users,
        "installs": installs,
        "revenue": str(revenue),
        "conversionRate": round(rate, 4) if rate is not None else 0.0,
    }


def events_over_time(*, app_id: uuid.UUID, since: dt.datetime, until: dt.datetime) -> list[dict]:
    source, params = activity_source(since=since, until=until, time_zone="UTC")
    result = clickhouse.execute(
        f"SELECT toStartOfDay(timestamp) AS day, event_name, sum(events) FROM {source} "
        "GROUP BY day, event_name ORDER BY day, event_name",
        {**params, "app_id": app_id},
        tag="analytics.events_over_time",
    )
    return [{"day": day.date().isoformat(), "event": name, "count": count} for day, name, count in result.rows]


# Each buyer's purchases of the period and new installs before its end (narrowed to the buyers by
# PREWHERE, before FINAL: the note on FINAL in ``credits``) grouped by device in one pass, in which each
# purchase finds its install (the latest at or before it, the greater id of two at one instant; the
# default tuple, the zero id, when none): no join of the purchases to the installs.
REVENUE_SQL = f"""
SELECT share.1 AS media_source, sum(toFloat64(revenue) * share.2) AS revenue, sum(share.2) AS purchases
FROM (
    SELECT purchase.2 AS revenue, arrayLast(x -> x.1 <= purchase.1, installs) AS install
    FROM (
        SELECT groupArrayIf((timestamp, revenue), is_purchase) AS purchases,
               arraySort(groupArrayIf((timestamp, conversion_id, sources, credits), NOT is_purchase)) AS installs
        FROM (
            SELECT {sql.DEVICE_KEY} AS device_key, timestamp, revenue, {ZERO_UUID} AS conversion_id, [] AS sources,
                   [] AS credits, 1 AS is_purchase
            FROM events FINAL
            WHERE app_id = {{app_id:UUID}} AND event_name = 'purchase'
              AND timestamp >= {{since:DateTime64(3, 'UTC')}} AND timestamp < {{until:DateTime64(3, 'UTC')}}
              AND device_key != ''
            UNION ALL
            SELECT device_key, conversion_time, toDecimal64(0, 6), conversion_id, path.media_source,
                   credits[{{model:String}}], 0
            FROM attributions FINAL
            PREWHERE app_id = {{app_id:UUID}} AND conversion_time < {{until:DateTime64(3, 'UTC')}}
              AND device_key IN (
                SELECT {sql.DEVICE_KEY} FROM events
                WHERE app_id = {{app_id:UUID}} AND event_name = 'purchase'
                  AND timestamp >= {{since:DateTime64(3, 'UTC')}} AND timestamp < {{until:DateTime64(3, 'UTC')}}
              )
            WHERE conversion_kind IN ({sql.NEW_INSTALLS})
        )
        GROUP BY device_key
    )
    ARRAY JOIN purchases AS purchase
)
ARRAY JOIN multiIf(
    install.2 = {ZERO_UUID}, [('unattributed', 1.)],
    empty(install.4), [('organic', 1.)],
    arrayFilter(x -> x.2 > 0, arrayZip(install.3, install.4))
) AS share
GROUP BY media_source
ORDER BY revenue DESC, media_source
"""


def revenue_by_source(*, app_id: uuid.UUID, model: str, since: dt.datetime, until: dt.datetime) -> list[dict]:
    """Purchases inherit the attribution of their device's latest install at or before them; under a
    multi-touch model each purchase's revenue is split by the install's credits. A purchase with no
    attributed install before it is "unattributed"."""
    if model not in MODELS:
        raise ValueError(f"Unknown model {model!r}; one of {', '.join(MODELS)}.")
    result = clickhouse.execute(
        REVENUE_SQL, {"app_id": app_id, "model": model, "since": since, "until": until}, tag="attribution_revenue"
    )
    return [{"mediaSource": s, "revenue": round(r, 6), "purchases": round(p, 6)} for s, r, p in result.rows]


INSTALLS_SQL = f"""
SELECT share.1 AS media_source, sum(share.2) AS installs
FROM attributions FINAL
ARRAY JOIN if(
    empty(path.touch_id),
    [('organic', 1.)],
    arrayFilter(x -> x.2 > 0, arrayZip(path.media_source, credits[{{model:String}}]))
) AS share
WHERE app_id = {{app_id:UUID}} AND conversion_kind IN ({sql.NEW_INSTALLS})
  AND conversion_time >= {{since:DateTime64(3, 'UTC')}} AND conversion_time < {{until:DateTime64(3, 'UTC')}}
GROUP BY media_source
"""


def attribution_by_source(*, app_id: uuid.UUID, model: str, since: dt.datetime, until: dt.datetime) -> list[dict]:
    """Installs (credit-weighted under multi-touch models) and the revenue their purchases brought,
    per media source, for installs and purchases in [since, until)."""
    revenue = {
        row["mediaSource"]: row for row in revenue_by_source(app_id=app_id, model=model, since=since, until=until)
    }
    installs = dict(
        clickhouse.execute(
            INSTALLS_SQL, {"app_id": app_id, "model": model, "since": since, "until": until}, tag="attribution_installs"
        ).rows
    )
    sources = sorted(set(installs) | set(revenue), key=lambda s: (-installs.get(s, 0.0), s))
    return [
        {
            "mediaSource": source,
            "installs": round(installs.get(source, 0.0), 6),
            "revenue": revenue[source]["revenue"] if source in revenue else 0.0,
            "purchases": revenue[source]["purchases"] if source in revenue else 0.0,
        }
        for source in sources
    ]
