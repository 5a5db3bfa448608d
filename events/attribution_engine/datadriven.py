"""The data-driven model: Markov-chain removal effects per channel (media source), per app and period.

Journeys are the touches of one device in the period, in time order, ending in a conversion when the
device converted and in "null" otherwise (a click without device ids is a one-touch journey). ClickHouse
counts the first-order transitions; the chain is small (one state per channel), so solving it here is
cheap. A channel's removal effect is the share of conversions that would be lost if its state led
nowhere; a conversion's touches share its credit in proportion to their channels' removal effects.
"""

import datetime as dt
import uuid

from core import clickhouse
from events.attribution_engine.sql import CONVERSION_NAMES, query_settings

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"

# Devices are grouped and looked up by a 64-bit hash of their pseudonymous id (a collision merges two
# journeys: about 1 in 10^7 for 10M devices); grouping 64-bit integers is cheaper than grouping strings.
TRANSITIONS_SQL = f"""
WITH converted_devices AS (
    SELECT DISTINCT cityHash64(arrayJoin(mapValues(device_ids))) AS device
    FROM events
    PREWHERE app_id = {{app_id:UUID}} AND event_name IN ({CONVERSION_NAMES})
      AND timestamp >= {{since:DateTime64(3, 'UTC')}} AND timestamp < {{until:DateTime64(3, 'UTC')}}
),
journeys AS (
    SELECT
        arrayMap(x -> concat('ch:', x.2), arraySort(groupArray((timestamp, media_source)))) AS steps,
        device IN (SELECT device FROM converted_devices) AS converted
    FROM touchpoints
    PREWHERE app_id = {{app_id:UUID}} AND device_id != ''
      AND timestamp >= {{since:DateTime64(3, 'UTC')}} AND timestamp < {{until:DateTime64(3, 'UTC')}}
    GROUP BY cityHash64(device_id) AS device
    UNION ALL
    SELECT [concat('ch:', media_source)] AS steps, false AS converted
    FROM touchpoints
    PREWHERE app_id = {{app_id:UUID}} AND device_id = ''
      AND timestamp >= {{since:DateTime64(3, 'UTC')}} AND timestamp < {{until:DateTime64(3, 'UTC')}}
)
SELECT step.1 AS source, step.2 AS target, count() AS transitions
FROM journeys
ARRAY JOIN arrayZip(
    arrayPushFront(steps, '{START}'),
    arrayPushBack(steps, if(converted, '{CONVERSION}', '{NULL}'))
) AS step
GROUP BY source, target
"""


def transitions(*, app_id: uuid.UUID, since: dt.datetime, until: dt.datetime) -> dict[str, dict[str, int]]:
    result = clickhouse.execute(
        TRANSITIONS_SQL + query_settings(),
        {"app_id": app_id, "since": since, "until": until},
        tag="attribution_transitions",
    )
    counts: dict[str, dict[str, int]] = {}
    for source, target, count in result.rows:
        counts.setdefault(source, {})[target] = int(count)
    return counts


def conversion_probability(counts: dict[str, dict[str, int]], removed: str | None = None) -> float:
    """P(reaching the conversion from the start), with ``removed`` turned into a dead end.

    Solves p(s) = sum_t P(s, t) p(t), p(conversion) = 1, p(null) = 0 by Gauss-Jordan elimination."""
    states = sorted(
        {s for s in counts if s != START} | {t for row in counts.values() for t in row} - {CONVERSION, NULL}
    )
    index = {state: i for i, state in enumerate(states)}
    size = len(states)
    # Rows: p(s) - sum_t P(s,t) p(t) = P(s, conversion)
    matrix = [[0.0] * (size + 1) for _ in range(size)]
    for state, i in index.items():
        matrix[i][i] = 1.0
        row = counts.get(state, {})
        total = sum(row.values())
        if state == removed or total == 0:
            continue
        for target, count in row.items():
            share = count / total
            if target == CONVERSION:
                matrix[i][size] += share
            elif target != NULL:
                matrix[i][index[target]] -= share
    probabilities = _solve(matrix)
    start = counts.get(START, {})
    total = sum(start.values())
    if total == 0:
        return 0.0
    p = 0.0
    for target, count in start.items():
        if target == CONVERSION:
            p += count / total
        elif target != NULL and target != removed:
            p += count / total * probabilities[index[target]]
    return p


def _solve(matrix: list[list[float]]) -> list[float]:
    size = len(matrix)
    for column in range(size):
        pivot = max(range(column, size), key=lambda r: abs(matrix[r][column]))
        if abs(matrix[pivot][column]) < 1e-15:
            continue  # a state that cannot be left: its probability stays 0
        matrix[column], matrix[pivot] = matrix[pivot], matrix[column]
        factor = matrix[column][column]
        matrix[column] = [value / factor for value in matrix[column]]
        for row in range(size):
            if row != column and matrix[row][column] != 0.0:
                scale = matrix[row][column]
                matrix[row] = [a - scale * b for a, b in zip(matrix[row], matrix[column], strict=True)]
    return [matrix[i][size] if abs(matrix[i][i]) > 1e-15 else 0.0 for i in range(size)]


def removal_effects(counts: dict[str, dict[str, int]]) -> dict[str, float]:
    """Channel (media source) -> removal effect in [0, 1]."""
    base = conversion_probability(counts)
    if base <= 0:
        return {}
    channels = {s for s in counts if s.startswith("ch:")} | {
        t for row in counts.values() for t in row if t.startswith("ch:")
    }
    return {
        channel.removeprefix("ch:"): max(0.0, 1.0 - conversion_probability(counts, removed=channel) / base)
        for channel in sorted(channels)
    }


def channel_weights(*, app_id: uuid.UUID, since: dt.datetime, until: dt.datetime) -> dict[str, float]:
    return removal_effects(transitions(app_id=app_id, since=since, until=until))
