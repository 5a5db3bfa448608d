"""Atomic counters in the cache, in one round trip: fixed-window rate limits, lockouts, replay marks.

With Redis (django-redis) every call is one pipelined round trip (INCR + EXPIRE NX, SET NX). With the
local-memory cache of the embedded default, the cache's own incr/add, which are atomic per process.
"""

from collections.abc import Sequence

from django.core.cache import cache, caches
from django_redis import get_redis_connection
from django_redis.cache import RedisCache


def hit(counters: Sequence[tuple[str, int]], marks: Sequence[tuple[str, int]] = ()) -> tuple[list[int], list[bool]]:
    """Increment each ``(key, window_seconds)`` counter (the window starts at the first hit) and set
    each ``(key, ttl)`` mark if absent. Returns the counts and, per mark, whether it was new."""
    backend = caches["default"]  # once: each `cache.x` looks the backend up again
    if isinstance(backend, RedisCache):
        pipe = get_redis_connection("default").pipeline(transaction=False)
        for key, window in counters:
            full = backend.make_key(key)
            pipe.incr(full)
            pipe.expire(full, window, nx=True)
        for key, ttl in marks:
            pipe.set(backend.make_key(key), 1, ex=ttl, nx=True)
        replies = pipe.execute()
        counts = [int(replies[2 * i]) for i in range(len(counters))]
        return counts, [bool(r) for r in replies[2 * len(counters) :]]
    return [_count(backend, key, window) for key, window in counters], [
        backend.add(key, 1, timeout=ttl) for key, ttl in marks
    ]


def _count(backend, key: str, window: int) -> int:
    # A counter exists on all hits but a window's first: incr alone then (add, then incr, cost twice
    # as much on every rate-limited request). incr raises ValueError for a missing key, and add only
    # sets an absent one, so two first hits at once still count 1 and 2.
    try:
        return backend.incr(key)
    except ValueError:
        if backend.add(key, 1, timeout=window):
            return 1
        return backend.incr(key)


def extend(key: str, seconds: int) -> None:
    cache.touch(key, seconds)
