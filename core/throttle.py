"""Counting failures and requests in Redis, shared by every API process.

A thin layer over the `limits` library's moving-window limiter on redis-py's
asyncio client, so every API process sees the same counts.

A counter is named by a fixed name ("ingest") and a subject:
who is counted (a site and a client address, an email). The subject is only
ever stored as a keyed hash (HMAC with the secret key), so Redis never holds an
address or an email, not even for the length of a window, and nobody who reads
Redis can test guesses against its keys without the secret key.
"""

import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import ConnectionPool

from core.credentials import keyed_hash


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int = 0


class Throttle:
    def __init__(
        self, pool: ConnectionPool, secret_key: bytes, *, namespace: str = "sightline"
    ) -> None:
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            connection_pool=pool,  # type: ignore[arg-type]  # typed too narrowly in limits
            key_prefix=namespace,
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._secret_key = secret_key

    async def check(self, limit: RateLimitItem, name: str, *subject: str) -> Verdict:
        """Whether one more hit is allowed now, and if not, how long to wait."""
        key = self._key(name, subject)
        if await self._limiter.test(limit, *key):
            return Verdict(allowed=True)
        stats = await self._limiter.get_window_stats(limit, *key)
        return Verdict(allowed=False, retry_after_s=max(1, round(stats.reset_time - time.time())))

    async def hit(self, limit: RateLimitItem, name: str, *subject: str) -> bool:
        """Count one hit; False when the limit was already reached."""
        return await self._limiter.hit(limit, *self._key(name, subject))

    def _key(self, name: str, subject: tuple[str, ...]) -> tuple[str, str]:
        # The name joins the hashed text too, so equal subjects of two counters differ.
        return name, keyed_hash(self._secret_key, "\x1f".join((name, *subject)))


def rate(text: str) -> RateLimitItem:
    """`rate("5/15 minutes")`: a limit in the `limits` library's notation."""
    return parse(text)
