"""Fixed-window rate counters in the cache, counted atomically.

On Redis (tests, production) one Lua script increments the window's counter and sets its
expiry in the same step, so concurrent requests in every process each get their own count
and a counter can never outlive its window. On the local-memory cache of `make run` (one web
process) the cache's own lock makes `incr` atomic. A window of `period` seconds lets through
at most `limit` hits; across a window's edge a client may get up to twice that in `period`.
"""

from __future__ import annotations

import hashlib
import time
import weakref
from dataclasses import dataclass

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

_INCR = """
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('INCR', key)
  if counts[i] == 1 then redis.call('EXPIRE', key, ARGV[i]) end
end
return counts
"""
_DECR = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
end
return 0
"""
_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
            "d": 86400, "day": 86400}


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int


def parse_rate(text: str | None) -> Rate | None:
    """"1200/min" -> Rate(1200, 60); None, "" or "None" -> no limit."""
    if text in (None, "", "None", "none"):
        return None
    count, _, unit = str(text).partition("/")
    return Rate(int(count), _PERIODS[unit.strip().lower()])


def _key(scope: str, ident: str, period: int, now: float) -> tuple[str, int]:
    window = int(now // period)
    digest = hashlib.sha256(ident.encode("utf-8", "replace")).hexdigest()[:32]
    return f"rl:{scope}:{digest}:{period}:{window}", int(period - now % period) + 1


# One Redis client per connection pool (weakly held: a pool that goes, with the cache object
# of the thread that made it, takes its client along).
_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _client(cache: RedisCache):
    """The Redis client of the cache's write pool, made once per pool: Django's
    get_client() builds a new client object (and its table of response callbacks, about a
    third of a millisecond) on every call. A client is safe to share between threads: each
    command takes a connection from the pool."""
    pool = cache._cache._get_connection_pool(write=True)
    client = _clients.get(pool)
    if client is None:
        client = _clients[pool] = cache._cache._client(connection_pool=pool)
    return client


def _increment(keys: list[tuple[str, int]]) -> list[int]:
    """Each key's count after one more hit: one round trip to Redis for all of them."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        full = [cache.make_and_validate_key(key) for key, _ in keys]
        client = _client(cache)
        return [int(n) for n in client.eval(_INCR, len(full), *full, *(ttl for _, ttl in keys))]
    counts = []
    for key, ttl in keys:
        count = 1
        for _ in range(2):
            cache.add(key, 0, timeout=ttl)
            try:
                count = cache.incr(key)
                break
            except ValueError:  # expired between add and incr
                continue
        counts.append(count)
    return counts


def _decrement(keys: list[str]) -> None:
    cache = caches["default"]
    if not keys:
        return
    if isinstance(cache, RedisCache):
        full = [cache.make_and_validate_key(key) for key in keys]
        _client(cache).eval(_DECR, len(full), *full)
        return
    for key in keys:
        try:
            cache.decr(key)
        except ValueError:  # the window is over: nothing to give back
            pass


@dataclass(frozen=True)
class Hit:
    allowed: bool
    retry_after: int
    key: str

    def undo(self) -> None:
        """Give the hit back (a request counted in advance turned out not to count)."""
        undo([self])


def hit(scope: str, ident: str, rate: Rate, *, now: float | None = None) -> Hit:
    """Count one hit, atomically; `allowed` is false past the window's limit."""
    return hit_many([(scope, ident, rate)], now=now)[0]


def hit_many(limits: list[tuple[str, str, Rate]], *, now: float | None = None) -> list[Hit]:
    """One hit on each (scope, ident, rate), all in one atomic step."""
    if not limits:
        return []
    now = time.time() if now is None else now
    keyed = [(_key(scope, ident, rate.period, now), rate) for scope, ident, rate in limits]
    counts = _increment([(key, rate.period + 1) for (key, _), rate in keyed])
    return [Hit(count <= rate.limit, retry_after, key) for ((key, retry_after), rate), count in zip(keyed, counts)]


def undo(hits: list[Hit]) -> None:
    """Give these hits back, in one step."""
    _decrement([h.key for h in hits])
