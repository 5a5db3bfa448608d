"""Funnels: how many devices went through ordered steps within a conversion window, and the
conversion of each step (from the previous one and from the first), split by media source if asked.

The pipeline (one statement):
1. ``steps``: the rows that can be a step, per device (``sql.DEVICE_KEY``, the key the reports join
   purchases to installs with): the events of the step names, and, when the first step is
   ``install``, the engine's new installs (never the raw install events: a reinstall is no install).
   Platform and country narrow both (an install through its install event, as the campaign report).
   The events are read without FINAL: a redelivered event not yet merged away is an exact copy, and a
   copy cannot lengthen a device's chain. The installs are read FINAL: a recompute may change a kind.
2. ``reached``: ClickHouse's ``windowFunnel`` per device: the longest chain of the steps in order,
   each within ``window`` of the chain's first step. Only a first step inside the period counts (the
   date range filters the first step's time); the later steps may fall up to a window after it.
3. Split (or a media source / campaign filter): each device weighs as its latest new install before
   the period's end is credited under the chosen model (organic: no touch); a device with no new
   install on record has no source (``null``). A device's weights sum to one, so the rows add up to the
   total. When the first step is ``install``, that latest install is the device's last install step
   (the period's, under the platform and country filters; either of a device's two new installs in
   one millisecond: a tuple key to break so rare a tie made the query slower):
   ``reached`` keeps its id beside the level, in the same pass, and joins the shares of the period's
   installs by it (the shares apart before the join: carrying each install's arrays through a join
   costs more than reading them). Otherwise the installs read are those of the devices with a first
   step in the period (``windowFunnel`` gives those a level), read without running the funnel again
   (narrowed to them by PREWHERE before the merge: the note on FINAL in ``credits``), and joined to
   the funnel's devices.
"""

import datetime as dt
import re

from django import forms

from apps_registry.models import App
from core import clickhouse
from events.attribution_engine import sql
from events.ingestion.schema import NAME_PATTERN

from .aggregates import activity_source, segment
from .credits import ORGANIC, ZERO_UUID, installs_where
from .filters import Filters
from .metrics import derive

INSTALL = "install"  # as a first step: the engine's new install
MIN_STEPS, MAX_STEPS = 2, 8
WINDOW_DAYS = range(1, 31)
DEFAULT_WINDOW_DAYS = 7
SPLITS = {"": "No split", "source": "By media source"}
STEP_RATIOS = ("conversionFromPrevious", "conversionFromFirst")
_DAY_MS = 86_400_000


class StepsField(forms.Field):
    """The steps in order: a repeated parameter (``steps=a&steps=b``), a comma list, or both; blanks
    are dropped (a page's empty "add a step" select)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[str]:
        values = value if isinstance(value, list | tuple) else [value or ""]
        return [name.strip() for item in values for name in str(item).split(",") if name.strip()]

    def validate(self, value: list[str]) -> None:
        if not MIN_STEPS <= len(value) <= MAX_STEPS:
            raise forms.ValidationError(f"Give {MIN_STEPS} to {MAX_STEPS} steps, in order.")
        for name in value:
            if len(name) > 64 or not re.fullmatch(NAME_PATTERN, name):
                raise forms.ValidationError(f"{name[:64]!r} is not an event name.")
        if INSTALL in value[1:]:
            raise forms.ValidationError(f"{INSTALL!r} (a new install) can only be the first step.")
        if len(set(value)) != len(value):
            raise forms.ValidationError("Each step is a different event.")


class FunnelForm(forms.Form):
    """The funnel's own parameters, beside the report filters (``dashboard.filters``); the page and
    the API parse them here."""

    steps = StepsField(label="Steps")
    window = forms.TypedChoiceField(
        label="Conversion window (days)",
        choices=[(days, days) for days in WINDOW_DAYS],
        coerce=int,
        required=False,
        empty_value=DEFAULT_WINDOW_DAYS,
    )
    split = forms.ChoiceField(label="Split", choices=list(SPLITS.items()), required=False)


def _steps_sql(filters: Filters, steps: list[str], *, conversions: bool = False) -> str:
    """Every row that can be a step (there is always an event step: ``install`` is only ever first);
    ``conversions``: with ``conversion``, an install's id (the zero id for an event)."""
    conversion = f", {ZERO_UUID} AS conversion" if conversions else ""
    parts = [
        f"SELECT {sql.DEVICE_KEY} AS device_key, toUInt64(toUnixTimestamp64Milli(timestamp)) AS at, event_name AS name"
        f"{conversion} FROM events WHERE app_id = {{app_id:UUID}} AND event_name IN {{events:Array(String)}} "
        "AND timestamp >= {since:DateTime64(3, 'UTC')} AND timestamp < {reach_until:DateTime64(3, 'UTC')}"
        f"{segment(filters.event_segments)}"
    ]
    if steps[0] == INSTALL:
        conversion = ", conversion_id AS conversion" if conversions else ""
        parts.append(
            f"SELECT device_key, toUInt64(toUnixTimestamp64Milli(conversion_time)) AS at, '{INSTALL}' AS name"
            f"{conversion} FROM attributions FINAL WHERE {installs_where(filters)}"
        )
    return " UNION ALL ".join(parts)


# An install's rows, one per credited touch under the model: ``share`` (media source, campaign, credit);
# one organic row when it had no touch. Of a tuple ``{path}`` (sources, campaigns, credits).
_SHARES = f"""ARRAY JOIN if(
        empty({{path}}.1), [('{ORGANIC}', '', 1.)],
        arrayFilter(x -> x.3 > 0, arrayZip({{path}}.1, {{path}}.2, {{path}}.3))
    ) AS share"""
_PATH = "(path.media_source, path.campaign, credits[{model:String}])"


def _funnel_sql(filters: Filters, steps: list[str], *, weighted: bool) -> str:
    first = "at < toUnixTimestamp64Milli({until:DateTime64(3, 'UTC')})"  # a first step inside the period
    conditions = ", ".join(
        f"name = {{step_{n}:String}}" + (f" AND {first}" if n == 0 else "") for n in range(len(steps))
    )
    from_installs = weighted and steps[0] == INSTALL
    reached = f"""
WITH reached AS (
    SELECT device_key, windowFunnel({{window_ms:UInt64}})(at, {conditions}) AS level
           {f", argMaxIf(conversion, at, name = '{INSTALL}') AS conversion" if from_installs else ""}
    FROM ({_steps_sql(filters, steps, conversions=from_installs)}) WHERE device_key != ''
    GROUP BY device_key HAVING level > 0
)"""
    if not weighted:
        return f"{reached}\nSELECT NULL AS media_source, level, toFloat64(count()) FROM reached GROUP BY level"
    touch_segment = "".join(
        f" AND share.{n} = {{{name}:String}}"
        for n, name in ((1, "media_source"), (2, "campaign"))
        if getattr(filters, name)
    )
    if from_installs:
        return f"""{reached}
SELECT s.media_source, r.level, sum(s.credit)
FROM reached AS r INNER JOIN (
    SELECT conversion_id, share.1 AS media_source, share.3 AS credit
    FROM attributions FINAL
    {_SHARES.format(path=_PATH)}
    WHERE {installs_where(filters)} {touch_segment}
) AS s ON r.conversion = s.conversion_id
GROUP BY s.media_source, r.level
"""
    return f"""{reached},
installs AS (
    SELECT device_key, argMax({_PATH}, conversion_time) AS i
    FROM attributions FINAL
    PREWHERE app_id = {{app_id:UUID}} AND conversion_time < {{until:DateTime64(3, 'UTC')}} AND device_key IN (
        SELECT device_key FROM ({_steps_sql(filters, steps)})
        WHERE name = {{step_0:String}} AND {first} AND device_key != ''
    )
    WHERE conversion_kind IN ({sql.NEW_INSTALLS})
    GROUP BY device_key
),
shares AS (
    SELECT device_key, share.1 AS media_source, share.3 AS credit
    FROM installs
    {_SHARES.format(path="i")}
    WHERE 1 {touch_segment}
)
SELECT s.media_source, r.level, sum(if(s.device_key = '', 1., s.credit))
FROM reached AS r LEFT JOIN shares AS s ON r.device_key = s.device_key
{"WHERE s.device_key != ''" if filters.media_source or filters.campaign else ""}
GROUP BY s.media_source, r.level
"""


def _steps_out(steps: list[str], reached: dict[int, float]) -> list[dict]:
    """Per step, the devices that reached it (those stopping there or further) and its conversions."""
    counts = [round(sum((float(v) for level, v in reached.items() if level > n), 0.0), 6) for n in range(len(steps))]
    out = [{"step": steps[0], "devices": counts[0], **dict.fromkeys(STEP_RATIOS)}]
    for n in range(1, len(steps)):
        ratios = derive(
            {"devices": counts[n], "previousDevices": counts[n - 1], "firstDevices": counts[0]}, *STEP_RATIOS
        )
        out.append({"step": steps[n], "devices": counts[n], **{ratio: ratios[ratio] for ratio in STEP_RATIOS}})
    return out


def funnel(*, app: App, filters: Filters, steps: list[str], window_days: int, split: str = "") -> dict:
    """The funnel of ``steps`` (valid as ``FunnelForm`` says) within ``window_days``: the ``total``
    steps, and the ``rows`` per media source when ``split`` is "source" (else none). Counts are
    devices; under a split or a media source / campaign filter, credit-weighted."""
    window_ms = window_days * _DAY_MS
    params = {
        "app_id": app.id,
        "since": filters.since,
        "until": filters.until,
        "reach_until": filters.until + dt.timedelta(milliseconds=window_ms),
        "model": filters.model,
        "window_ms": window_ms,
        "events": [name for name in steps if name != INSTALL],
        **{f"step_{n}": name for n, name in enumerate(steps)},
        **filters.segment,
    }
    weighted = bool(split or filters.media_source or filters.campaign)
    rows = clickhouse.execute(_funnel_sql(filters, steps, weighted=weighted), params, tag="analytics.funnel").rows
    by_source: dict[str | None, dict[int, float]] = {}
    total: dict[int, float] = {}
    for found, level, devices in rows:
        source = found or None  # a device with no new install on record joins no source
        by_source.setdefault(source, {})[level] = by_source.get(source, {}).get(level, 0.0) + devices
        total[level] = total.get(level, 0.0) + devices
    out = {"total": _steps_out(steps, total), "rows": None}
    if split:
        out["rows"] = sorted(
            ({"mediaSource": source, "steps": _steps_out(steps, levels)} for source, levels in by_source.items()),
            key=lambda row: (-row["steps"][0]["devices"], row["mediaSource"] is None, row["mediaSource"] or ""),
        )
    return out


NAMES_LOOKBACK = dt.timedelta(days=90)
MAX_NAMES = 200


def event_names(*, app: App, until: dt.datetime) -> list[str]:
    """The event names the app sent in the 90 days before ``until``, most frequent first (at most
    200): the choices of the funnels page's step pickers."""
    source, params = activity_source(since=until - NAMES_LOOKBACK, until=until, time_zone=app.timezone)
    result = clickhouse.execute(
        f"SELECT event_name FROM {source} GROUP BY event_name ORDER BY sum(events) DESC, event_name "
        "LIMIT {limit:UInt32}",
        {**params, "app_id": app.id, "limit": MAX_NAMES},
        tag="analytics.funnel_event_names",
    )
    return [row[0] for row in result.rows]
