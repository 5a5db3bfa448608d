"""What each ClickHouse backend provides; the facade in ``client.py`` is the only caller."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


def row_values(row: Any, columns: Sequence[str]) -> tuple:
    """A row's values in column order; a row is a mapping keyed by column or an object (e.g. a
    msgspec struct) with an attribute per column."""
    if isinstance(row, Mapping):
        return tuple(row.get(c) for c in columns)
    return tuple(getattr(row, c) for c in columns)


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple]
    types: list[str] = field(default_factory=list)

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None


class Backend(Protocol):
    name: str

    def query(self, sql: str, params: Mapping[str, Any], *, timeout: float, tag: str) -> Result: ...

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Any],
        *,
        timeout: float,
        tag: str,
        deduplication_token: str | None,
        encoded: bytes | None = None,  # the same rows as JSON lines, one body (see clickhouse.insert)
        unique: bool = False,
    ) -> None: ...

    def close(self) -> None: ...
