"""Atomic counters in the cache, in one round trip: fixed-window rate limits, lockouts, replay marks.

With Redis (django-redis) every call is one pipelined round trip (INCR + EXPIRE NX, SET NX). With the
local-memory cache of the embedded default, the cache's own add/incr, which are atomic per process.
"""

from collections.abc import Sequence

from django.core.cache import cache


def _redis():
    try:
        from django_redis import get_redis_connection
        from django_redis.cache import RedisCache
    except ImportError:
        return None
    return get_redis_connection("default") if isinstance(cache, RedisCache) else None


def hit(counters: Sequence[tuple[str, int]], marks: Sequence[tuple[str, int]] = ()) -> tuple[list[int], list[bool]]:
    """Increment each ``(key, window_seconds)`` counter (the window starts at the first hit) and set
    each ``(key, ttl)`` mark if absent. Returns the counts and, per mark, whether it was new."""
    redis = _redis()
    if redis is not None:
        pipe = redis.pipeline(transaction=False)
        for key, window in counters:
            full = cache.make_key(key)
            pipe.incr(full)
            pipe.expire(full, window, nx=True)
        for key, ttl in marks:
            pipe.set(cache.make_key(key), 1, ex=ttl, nx=True)
        replies = pipe.execute()
        counts = [int(replies[2 * i]) for i in range(len(counters))]
        return counts, [bool(r) for r in replies[2 * len(counters) :]]
    counts = []
    for key, window in counters:
        cache.add(key, 0, timeout=window)
        counts.append(cache.incr(key))
    return counts, [cache.add(key, 1, timeout=ttl) for key, ttl in marks]


def extend(key: str, seconds: int) -> None:
    cache.touch(key, seconds)
