"""What each ClickHouse backend provides; the facade in ``client.py`` is the only caller."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


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
        rows: Sequence[Mapping[str, Any]],
        *,
        timeout: float,
        tag: str,
        deduplication_token: str | None,
    ) -> None: ...

    def close(self) -> None: ...
