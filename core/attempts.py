"""Attempts counted in sliding windows in Redis, admitted and counted in one step.

Checking a count and adding to it in two round trips lets every concurrent
request pass the check before any of them is counted. Here one Lua script, run
atomically by Redis, drops expired entries from every window, refuses if any is
full, and otherwise records the attempt in all of them. Each window is a sorted
set of attempt ids scored by Redis's own clock, so an admitted attempt can later
be taken back (one that succeeded is not a failure) and every API process sees
the same time.
"""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

_ADMIT = """
local window_ms = tonumber(ARGV[1])
local attempt = ARGV[2]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local wait_ms = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window_ms)
  local limit = tonumber(ARGV[i + 2])
  local count = redis.call('ZCARD', key)
  if count >= limit then
    local freeing = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    wait_ms = math.max(wait_ms, tonumber(freeing[2]) + window_ms - now)
  end
end
if wait_ms > 0 then
  return wait_ms
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, attempt)
  redis.call('PEXPIRE', key, window_ms)
end
return 0
"""


@dataclass(frozen=True)
class Window:
    """One count: at most `limit` attempts under `key` per window."""

    key: str
    limit: int


@dataclass(frozen=True)
class Admission:
    attempt: str | None  # the id recorded in every window; None when refused
    retry_after_s: int = 0


class Attempts:
    def __init__(self, redis: Redis, *, window_s: int, namespace: str) -> None:
        self._redis = redis
        self._window_ms = window_s * 1000
        self._namespace = namespace
        self._admit = redis.register_script(_ADMIT)

    async def admit(self, windows: Sequence[Window]) -> Admission:
        """Count one attempt in every window, unless one of them is full."""
        attempt = secrets.token_hex(8)
        wait_ms = await self._admit(
            keys=[self._key(w) for w in windows],
            args=[self._window_ms, attempt, *(w.limit for w in windows)],
        )
        if wait_ms:
            return Admission(attempt=None, retry_after_s=-(-int(wait_ms) // 1000))
        return Admission(attempt=attempt)

    async def take_back(self, attempt: str, windows: Sequence[Window]) -> None:
        """Remove an admitted attempt from `windows`, as if it had never been made."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for window in windows:
                pipe.zrem(self._key(window), attempt)
            await pipe.execute()

    async def clear(self, window: Window) -> None:
        await self._redis.delete(self._key(window))

    def _key(self, window: Window) -> str:
        return f"{self._namespace}:{window.key}"
