"""Named leases in the cache: at most one holder at a time, across processes and machines.

A lease is a key holding its holder's token with an expiry. `Lease.hold()` takes the key when
nobody holds it, or extends it when this holder already does, and answers whether this holder
has it now; `release()` gives it up only when this holder still has it. A holder that dies
simply lets its lease expire, and then another one takes it.

On Redis (tests, production: CACHE_URL) each step is one Lua script, so two holders can never
both get the lease, whichever process or machine they run in. On any other cache (the
local-memory cache of `make run`, one process per role) `add` takes a free lease and a plain
read and write extends it: good for one process, not for several machines; docs/deploy.md
says a multi-machine deployment sets CACHE_URL to its Redis.
"""

from __future__ import annotations

import os
import secrets
import socket

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

_HOLD = """
local current = redis.call('GET', KEYS[1])
if current == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
_HOLDER = """
return redis.call('GET', KEYS[1])
"""


def holder_token() -> str:
    """A token naming this process (host and pid, for an operator reading Redis) and unique."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Lease:
    def __init__(self, name: str, *, seconds: float, token: str | None = None):
        if seconds <= 0:
            raise ValueError("a lease lasts a positive number of seconds")
        self.key = f"lease:{name}"
        self.seconds = seconds
        self.token = token or holder_token()

    def _redis(self):
        cache = caches["default"]
        if not isinstance(cache, RedisCache):
            return None, None
        key = cache.make_and_validate_key(self.key)
        return cache._cache.get_client(key, write=True), key

    def hold(self) -> bool:
        """Take or extend the lease for `seconds` from now; True when this holder has it."""
        client, key = self._redis()
        if client is not None:
            return bool(client.eval(_HOLD, 1, key, self.token, int(self.seconds * 1000)))
        cache = caches["default"]
        if cache.add(self.key, self.token, timeout=self.seconds):
            return True
        if cache.get(self.key) == self.token:
            cache.set(self.key, self.token, timeout=self.seconds)
            return True
        return False

    def release(self) -> None:
        """Give the lease up now, if this holder still has it (another holder's stays)."""
        client, key = self._redis()
        if client is not None:
            client.eval(_RELEASE, 1, key, self.token)
            return
        cache = caches["default"]
        if cache.get(self.key) == self.token:
            cache.delete(self.key)

    def holder(self) -> str | None:
        """The token of whoever holds the lease now, or None."""
        client, key = self._redis()
        if client is not None:
            value = client.eval(_HOLDER, 1, key)
            return value.decode() if isinstance(value, bytes) else value
        return caches["default"].get(self.key)
