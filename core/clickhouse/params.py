"""Query parameters: Python values become the text ClickHouse's ``{name:Type}`` placeholders parse.

Values never reach SQL text: both backends send them beside the query. ClickHouse parses each one in
its "escaped" text format, so scalars are escaped here (tab, newline, backslash...); composite
values (arrays, tuples, maps) are written as quoted literals.
"""

import datetime as dt
import decimal
import uuid
from collections.abc import Mapping
from typing import Any

_ESCAPE_CHARS = {
    "\\": "\\\\",
    "\t": "\\t",
    "\n": "\\n",
    "\r": "\\r",
    "\0": "\\0",
    "\b": "\\b",
    "\f": "\\f",
}
_ESCAPES = str.maketrans(_ESCAPE_CHARS)
_QUOTED_ESCAPES = str.maketrans({**_ESCAPE_CHARS, "'": "\\'"})


def _escape(text: str, table: dict[int, str]) -> str:
    return text.translate(table)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, (dt.date, uuid.UUID, decimal.Decimal, int, float, str)):
        return str(value)
    raise TypeError(f"Cannot send a {type(value).__name__} as a ClickHouse query parameter.")


def _literal(value: Any) -> str:
    """A value as a ClickHouse literal, used inside arrays, tuples and maps."""
    if value is None:
        return "NULL"
    if isinstance(value, list) and value and all(type(item) is uuid.UUID for item in value):
        # Consumers send thousands of ids per query; a UUID's text needs no escaping.
        return "['" + "', '".join(map(str, value)) + "']"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_literal(item) for item in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (bool, int, float, decimal.Decimal)):
        return _scalar_text(value)
    return "'" + _escape(_scalar_text(value), _QUOTED_ESCAPES) + "'"


def to_parameter_text(value: Any) -> str:
    """The escaped text for one ``{name:Type}`` parameter."""
    if value is None:
        return "\\N"
    if isinstance(value, (list, tuple, Mapping)):
        return _literal(value)  # composite parameters are parsed as quoted literals, not escaped text
    return _escape(_scalar_text(value), _ESCAPES)


def normalize(value: Any) -> Any:
    """Values in a form that does not depend on the client library (UTC datetimes, strings for ids)."""
    if isinstance(value, (list, tuple)):
        return type(value)(normalize(item) for item in value)
    if isinstance(value, Mapping):
        return {normalize(k): normalize(v) for k, v in value.items()}
    if isinstance(value, (dt.datetime, uuid.UUID, decimal.Decimal)):
        return _scalar_text(value)
    return value
