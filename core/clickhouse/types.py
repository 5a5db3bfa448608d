"""Turns ClickHouse's JSON text output into the Python values clickhouse-driver returns.

The embedded backend reads results as JSON; converting by the column's declared type makes both
backends hand callers the same values (aware UTC datetimes, UUID, Decimal, dict for Map...).
"""

import datetime as dt
import decimal
import functools
import re
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any

Converter = Callable[[Any], Any]

_WRAPPERS = re.compile(r"^(LowCardinality|Nullable|SimpleAggregateFunction)\((.*)\)$")
_TIME_ZONE = re.compile(r"^DateTime(?:64)?\((?:\d+, *)?'([^']+)'\)$")


def _identity(value: Any) -> Any:
    return value


def _split_top_level(args: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in args:
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        depth += char == "("
        depth -= char == ")"
        current.append(char)
    parts.append("".join(current).strip())
    return parts


def _datetime(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)


def _datetime_in(zone: str) -> Converter:
    """A DateTime of a named time zone arrives as that zone's wall clock: read there, given in UTC (in
    the hour a clock turned back, the text cannot say which of the two it was: the earlier is taken)."""
    tz = zoneinfo.ZoneInfo(zone)

    def convert(value: str | None) -> dt.datetime | None:
        if value is None:
            return None
        return dt.datetime.fromisoformat(value).replace(tzinfo=tz).astimezone(dt.UTC)

    return convert


def _nullable(convert: Converter) -> Converter:
    return lambda value: None if value is None else convert(value)


@functools.cache
def converter_for(type_name: str) -> Converter:
    """The function that turns one JSON value of ``type_name`` into its Python value."""
    wrapped = _WRAPPERS.match(type_name)
    if wrapped:
        inner = wrapped.group(2)
        if wrapped.group(1) == "SimpleAggregateFunction":
            inner = _split_top_level(inner)[1]
        return _nullable(converter_for(inner))
    if type_name.startswith("DateTime"):
        zone = _TIME_ZONE.search(type_name)
        return _datetime if zone is None or zone.group(1) == "UTC" else _datetime_in(zone.group(1))
    if type_name in {"Date", "Date32"}:
        return _nullable(dt.date.fromisoformat)
    if type_name == "UUID":
        return _nullable(uuid.UUID)
    if type_name.startswith("Decimal"):
        return _nullable(decimal.Decimal)
    if type_name in {"Bool", "Boolean"}:
        return _nullable(bool)
    if type_name.startswith("Array("):
        item = converter_for(type_name[len("Array(") : -1])
        return _nullable(lambda values: [item(v) for v in values])
    if type_name.startswith("Map("):
        key_type, value_type = _split_top_level(type_name[len("Map(") : -1])
        key, value = converter_for(key_type), converter_for(value_type)
        return _nullable(lambda mapping: {key(k): value(v) for k, v in mapping.items()})
    if type_name.startswith("Tuple("):
        items = [converter_for(part.split(" ")[-1]) for part in _split_top_level(type_name[len("Tuple(") : -1])]
        return _nullable(lambda values: tuple(c(v) for c, v in zip(items, values, strict=True)))
    return _identity


def normalize_driver_value(value: Any) -> Any:
    """clickhouse-driver gives naive datetimes for UTC columns; callers always get aware UTC ones."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    if isinstance(value, list):
        return [normalize_driver_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(normalize_driver_value(v) for v in value)
    if isinstance(value, dict):
        return {k: normalize_driver_value(v) for k, v in value.items()}
    return value
