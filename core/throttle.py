"""Counting failures and requests in Redis, shared by every API process.

A thin layer over the `limits` library's moving-window limiter on redis-py's
asyncio client, so every API process sees the same counts.
"""

import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import ConnectionPool


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int = 0


class Throttle:
    def __init__(self, pool: ConnectionPool, *, namespace: str = "sightline") -> None:
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            connection_pool=pool,  # type: ignore[arg-type]  # typed too narrowly in limits
            key_prefix=namespace,
        )
        self._limiter = MovingWindowRateLimiter(storage)

    async def check(self, limit: RateLimitItem, *key: str) -> Verdict:
        """Whether one more hit is allowed now, and if not, how long to wait."""
        if await self._limiter.test(limit, *key):
            return Verdict(allowed=True)
        stats = await self._limiter.get_window_stats(limit, *key)
        return Verdict(allowed=False, retry_after_s=max(1, round(stats.reset_time - time.time())))

    async def hit(self, limit: RateLimitItem, *key: str) -> bool:
        """Count one hit; False when the limit was already reached."""
        return await self._limiter.hit(limit, *key)

    async def clear(self, limit: RateLimitItem, *key: str) -> None:
        await self._limiter.clear(limit, *key)


def rate(text: str) -> RateLimitItem:
    """`rate("5/15 minutes")`: a limit in the `limits` library's notation."""
    return parse(text)
