"""Who gets the credit for a conversion, and which conversion a purchase (an event) belongs to, in SQL:
the parts the campaign report, the overview, the model comparison and the cohorts read live
(``analytics``, ``cohorts``) and the attribution side's pre-aggregate is refreshed from
(``attributed_daily``).

A conversion credits the touches of its path with their share under a model (an organic install is
one row of share 1). A purchase belongs to its device's latest new install before it, unless it falls
in the re-engagement window of a later re-engagement or re-attribution: then to that.

Parameters the SQL takes: ``{app_id:UUID}``, ``{since:...}`` and ``{until:...}`` (conversion times),
``{model:String}`` (one model), ``{tz:String}`` (days of the app's time zone), the segment filters by
name, and for ``credited_ctes(spans=N)`` ``{agg_from_<i>:...}`` and ``{agg_to_<i>:...}`` for each covered
span i < N, and ``{fresh:...}`` (``attributed_daily.coverage_params``).

Reading by device under FINAL: FINAL merges a row's versions before WHERE, so it reads every column of
every row in the time range. A ``PREWHERE`` narrows before the merge, reading the other columns only
for the rows it keeps; it is exact only on columns every version of a row shares (the sorting key, the
device an event or a conversion is of), never on one a recompute may change (a kind, a window, the
credits), which stay in WHERE.
"""

from events.attribution_engine import sql
from events.attribution_engine.rules import (
    CONVERSION_EVENTS,
    MODELS,
    NEW_INSTALL_KINDS,
    REENGAGEMENT_EVENTS,
    RETARGETING_KINDS,
)

from .aggregates import segment
from .filters import Filters

ORGANIC = "organic"
ZERO_UUID = "toUUID('00000000-0000-0000-0000-000000000000')"
PERIOD = "{column} >= {{since:DateTime64(3, 'UTC')}} AND {column} < {{until:DateTime64(3, 'UTC')}}"
CONVERSION_EVENT_NAMES = sql.literals((*CONVERSION_EVENTS, *REENGAGEMENT_EVENTS))
CREDITED_KINDS = (*NEW_INSTALL_KINDS, *RETARGETING_KINDS)
REENGAGEMENT = "re_engagement"  # the kind of conversion that is an open (REENGAGEMENT_EVENTS), not an install
# The conversions revenue is credited through: new installs, and retargeting conversions in their window.
CREDITED = f"(conversion_kind IN ({sql.NEW_INSTALLS}) OR reengagement_window_end IS NOT NULL)"


# A conversion time outside covered span # (a template of ``{column}``).
_OUTSIDE_SPAN = "({column} < {{agg_from_#:DateTime64(3, 'UTC')}} OR {column} >= {{agg_to_#:DateTime64(3, 'UTC')}})"


def uncovered(spans: int) -> str:
    """A conversion time (a template of ``{column}``) the pre-aggregate does not hold: outside each of the
    ``spans`` covered spans (one per period read together)."""
    return f"({' AND '.join(_OUTSIDE_SPAN.replace('#', str(i)) for i in range(spans))})"


def installs_where(filters: Filters, *, kinds: tuple[str, ...] = NEW_INSTALL_KINDS, within: str = "") -> str:
    """The conversions of the period of these kinds (new installs unless told), narrowed by their
    conversion event's platform and country. ``within``: a further condition on the conversion time
    (a template of ``{column}``), which narrows the conversion events read for those filters too (a
    conversion's time is its event's)."""
    times = [PERIOD, *([within] if within else [])]
    events = (*CONVERSION_EVENTS, *(REENGAGEMENT_EVENTS if REENGAGEMENT in kinds else ()))

    def during(column: str) -> str:
        return " AND ".join(time.format(column=column) for time in times)

    where = f"app_id = {{app_id:UUID}} AND conversion_kind IN ({sql.literals(kinds)}) AND {during('conversion_time')}"
    if filters.event_segments:
        where += (
            " AND conversion_id IN (SELECT event_id FROM events WHERE app_id = {app_id:UUID} "
            f"AND event_name IN ({sql.literals(events)}) AND {during('timestamp')}"
            f"{segment(filters.event_segments)})"
        )
    return where


def owned_purchases(*, devices: str = "") -> str:
    """One row per purchase from ``{since}`` on with the conversion it belongs to: ``owner`` (its id and
    time; the zero id and 1970 when none), ``timestamp``, ``day`` (the app's), ``currency``,
    ``revenue``. ``devices``: a condition on ``device_key`` that narrows the purchases and conversions
    read (every one of a device or none).

    Only the conversions from ``{since}`` on are read: an owner before it is no owner the reports ask
    for, and an install before it never outranks a retargeting conversion after it. A purchase with no
    install before it belongs to a retargeting conversion whose window it falls in, if any.

    Each device's conversions are read once, as a list in time order (``c``: time, id, whether a new
    install, re-engagement window end), in which each purchase finds the latest new install (``a``) and
    the latest retargeting conversion (``r``) at or before it; the default tuple (1970, the zero id) when
    there is none."""
    return f"""
    SELECT
        if(r.1 > a.1 AND timestamp <= r.4, (r.2, r.1), (a.2, a.1)) AS owner,
        timestamp, toDate(timestamp, {{tz:String}}) AS day, currency, revenue
    FROM (
        SELECT e.timestamp AS timestamp, e.currency AS currency, e.revenue AS revenue,
               arrayLast(x -> x.3 AND x.1 <= timestamp, c.conversions) AS a,
               arrayLast(x -> x.4 IS NOT NULL AND x.1 <= timestamp, c.conversions) AS r
        FROM (
            SELECT {sql.DEVICE_KEY} AS device_key, timestamp, revenue, currency
            FROM events FINAL
            PREWHERE app_id = {{app_id:UUID}} AND event_name = 'purchase'
              AND timestamp >= {{since:DateTime64(3, 'UTC')}} AND device_key != ''{devices}
        ) AS e
        LEFT JOIN (
            SELECT device_key,
                   arraySort(groupArray((conversion_time, conversion_id, conversion_kind IN ({sql.NEW_INSTALLS}),
                                         reengagement_window_end))) AS conversions
            FROM attributions FINAL
            PREWHERE app_id = {{app_id:UUID}} AND conversion_time >= {{since:DateTime64(3, 'UTC')}}{devices}
            WHERE conversion_kind IN ({sql.NEW_INSTALLS}) OR reengagement_window_end IS NOT NULL
            GROUP BY device_key
        ) AS c ON e.device_key = c.device_key
    )"""


def active_periods(periods: str, *, events_until: str = "") -> str:
    """One row per (new install of ``[{since}, {until})``, ``step``, ``period``) in which its device had
    an event: an event belongs to its device's latest new install at or before it. ``periods``: the
    array of (step, period) tuples of an event (a template of ``{column}``, its time); ``events_until``:
    a further condition on the events read (SQL of ``timestamp``).

    Only the events of the devices with a new install of the period are read (those devices read
    without FINAL: a superset). Each device's event times and new installs are grouped in one pass, and
    each (install, step, period) found there once: no join of the events to the installs, no distinct
    over every event's rows."""
    installs = (
        f"app_id = {{app_id:UUID}} AND conversion_kind IN ({sql.NEW_INSTALLS}) "
        "AND conversion_time >= {since:DateTime64(3, 'UTC')} AND device_key != ''"
    )
    return f"""
    SELECT a.1.2 AS conversion_id, a.1.1 AS conversion_time, a.2.1 AS step, a.2.2 AS period
    FROM (
        SELECT arrayDistinct(arrayFlatten(arrayMap(
                   e -> arrayMap(p -> (e.1, p), {periods.format(column="e.2")}),
                   arrayMap(t -> (arrayLast(x -> x.1 <= t, installs), t), times)
               ))) AS active
        FROM (
            SELECT groupArrayIf(timestamp, NOT is_install) AS times,
                   arraySort(groupArrayIf((timestamp, conversion_id), is_install)) AS installs
            FROM (
                SELECT {sql.DEVICE_KEY} AS device_key, timestamp, {ZERO_UUID} AS conversion_id, 0 AS is_install
                FROM events
                WHERE app_id = {{app_id:UUID}} AND timestamp >= {{since:DateTime64(3, 'UTC')}}{events_until}
                  AND device_key != ''
                  AND device_key IN (
                    SELECT device_key FROM attributions
                    WHERE {installs} AND conversion_time < {{until:DateTime64(3, 'UTC')}}
                  )
                UNION ALL
                SELECT device_key, conversion_time, conversion_id, 1 FROM attributions FINAL WHERE {installs}
            )
            GROUP BY device_key
        )
    )
    ARRAY JOIN active AS a
    WHERE a.1.2 != {ZERO_UUID} AND a.1.1 < {{until:DateTime64(3, 'UTC')}}"""


def credit_rows(conversions: str, *, every_model: bool) -> str:
    """One row per (conversion, credited touch) of ``conversions`` (a subquery of attributions' columns
    plus ``live``) with its share under ``{model}``, or under each model (``every_model``; the ``model``
    column says which)."""
    models = f"ARRAY JOIN [{sql.literals(MODELS)}] AS model" if every_model else ""
    credit = "credits[model]" if every_model else "credits[{model:String}]"
    return f"""
    SELECT conversion_id, conversion_time, {"model" if every_model else "{model:String}"} AS model,
           share.1 AS touch_id, share.2 AS media_source, share.3 AS campaign, share.4 AS credit,
           conversion_kind IN ({sql.NEW_INSTALLS}) AS is_install, live
    FROM {conversions} AS c
    {models}
    ARRAY JOIN if(
        empty(touch_ids),
        [({ZERO_UUID}, '{ORGANIC}', '', 1.)],
        arrayFilter(x -> x.4 > 0, arrayZip(touch_ids, sources, campaigns, {credit}))
    ) AS share"""


def conversions(where: str, *, live: str = "1", devices: str = "") -> str:
    """The credited conversions (attributions' newest rows) meeting ``where``, with the columns
    ``credit_rows`` reads; ``live``: its ``live`` column; ``devices``: a set of device keys they are of
    (a ``PREWHERE``: the module's note on FINAL)."""
    prewhere = f"PREWHERE device_key IN ({devices})" if devices else ""
    return f"""(
        SELECT conversion_id, conversion_time, conversion_kind, path.touch_id AS touch_ids,
               path.media_source AS sources, path.campaign AS campaigns, credits, {live} AS live
        FROM attributions FINAL {prewhere} WHERE {where} AND {CREDITED}
    )"""


def credited_ctes(filters: Filters, *, every_model: bool = False, spans: int = 0, bucket: str = "") -> str:
    """``credited``: one row per (conversion of the period, credited touch) under the model or every
    model; ``narrowed``: those of the media source and campaign filters; ``touch_ads``: the ad set and
    ad of each credited touch (and maybe of other touches of the period); ``cohort_revenue``: the
    purchases each conversion of the period brought, per day and currency (``fresh``: from ``{fresh}``
    on). A re-engagement or re-attribution has rows too (``is_install`` false): the revenue of its
    re-engagement window is its touches'.

    ``spans``: how many spans of time the pre-aggregate answers for (none: it answers for nothing);
    then only what it does not hold (``live`` marks the conversions outside its spans): the conversions
    outside them, the purchases from ``{fresh}`` on, and the conversions inside them those purchases
    may belong to; every purchase of the devices read, to tell a first purchase.

    ``bucket``: an expression of a purchase's ``timestamp`` that ``cohort_revenue`` keeps apart as its
    ``bucket`` column too (the pre-aggregate's rows of purchases)."""
    touch_segment = segment(tuple(name for name in ("media_source", "campaign") if getattr(filters, name)))
    where = installs_where(filters, kinds=CREDITED_KINDS)
    devices = ""
    source = conversions(where)
    touched = "SELECT touch_id FROM narrowed"
    fresh = "1"  # nothing covered: every purchase is new to the report
    if spans:
        fresh = "timestamp >= {fresh:DateTime64(3, 'UTC')}"
        outside = uncovered(spans)
        buyers = (
            f"SELECT {sql.DEVICE_KEY} FROM events WHERE app_id = {{app_id:UUID}} AND event_name = 'purchase' "
            "AND timestamp >= {fresh:DateTime64(3, 'UTC')}"
        )
        devices = f"""
          AND device_key IN (
            {buyers}
            UNION ALL
            SELECT device_key FROM attributions WHERE app_id = {{app_id:UUID}}
              AND {PERIOD.format(column="conversion_time")} AND {outside.format(column="conversion_time")}
          )"""
        # Inside the covered spans, the conversions of the devices that bought since ``fresh``: those
        # fresh purchases may be theirs (the others join no fresh revenue and count no install).
        live, inside = (
            installs_where(filters, kinds=CREDITED_KINDS, within=within) for within in (outside, f"NOT {outside}")
        )
        source = f"""(
        SELECT * FROM {conversions(live)}
        UNION ALL
        SELECT * FROM {conversions(inside, live="0", devices=buyers)}
    )"""
        # The touches of those conversions' paths, any version (a superset of those credited): read
        # from ``narrowed``, the lookup would compute it a second time.
        paths = (
            "SELECT arrayJoin(path.touch_id) FROM attributions PREWHERE app_id = {app_id:UUID} "
            f"AND {PERIOD.format(column='conversion_time')}"
        )
        outside_paths = f"{paths} AND {outside.format(column='conversion_time')}"
        touched = f"{outside_paths} UNION ALL {paths} AND device_key IN ({buyers})"
    return f"""
cohort_revenue AS (
    SELECT owner.1 AS conversion_id, owner.2 AS conversion_time, day{f", {bucket} AS bucket" if bucket else ""},
           currency, {fresh} AS fresh, sum(revenue) AS amount
    FROM ({owned_purchases(devices=devices)})
    WHERE owner.1 != {ZERO_UUID}
      AND owner.2 >= {{since:DateTime64(3, 'UTC')}} AND owner.2 < {{until:DateTime64(3, 'UTC')}}
    GROUP BY conversion_id, conversion_time, day{", bucket" if bucket else ""}, currency, fresh
),
credited AS ({credit_rows(source, every_model=every_model)}),
narrowed AS (SELECT * FROM credited WHERE 1 {touch_segment}),
touch_ads AS (
    SELECT touch_id, any(adset) AS adset, any(ad) AS ad
    FROM touchpoints
    WHERE app_id = {{app_id:UUID}} AND touch_id IN ({touched})
    GROUP BY touch_id
)"""
