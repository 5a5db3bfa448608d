"""What one process remembers for a few seconds on the hot path (verified API keys, tracking links),
so that most requests cost no cache round trip and no unpickling. The shared cache stays the source
for other processes; a process that changes an entry forgets it here at once, others within the ttl."""

import threading
import time
from collections.abc import Hashable
from typing import Any


class ProcessMemo:
    """Entries with their own expiry, each optionally in a group that can be forgotten at once.
    Bounded: full, it starts over (only entries worth remembering get here; a bound, not an eviction
    policy)."""

    def __init__(self, max_entries: int = 10_000):
        self._entries: dict[Hashable, tuple[Any, Hashable, float]] = {}  # key -> (value, group, expiry)
        self._lock = threading.Lock()
        self._max_entries = max_entries

    def get(self, key: Hashable) -> Any | None:
        entry = self._entries.get(key)
        if entry is not None and entry[2] > time.monotonic():
            return entry[0]
        return None

    def put(self, key: Hashable, value: Any, ttl: float, group: Hashable = None) -> None:
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = (value, group, time.monotonic() + ttl)

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def forget_group(self, group: Hashable) -> None:
        with self._lock:
            for key in [key for key, (_, in_group, _) in self._entries.items() if in_group == group]:
                del self._entries[key]

    def clear(self) -> None:
        """Forget everything (as the ttl passing would)."""
        with self._lock:
            self._entries.clear()
