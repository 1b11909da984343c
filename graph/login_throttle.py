"""Slowing down password guessing: failures counted per email and per address.

Counts live in Redis so every API process shares them. If Redis cannot be
reached, logins are not throttled (argon2's cost still bounds guessing) and
the outage is logged.
"""

from limits import RateLimitItem
from redis.exceptions import RedisError

from core.config import Settings
from core.credentials import digest
from core.logs import get_logger
from core.throttle import Throttle, rate
from graph.errors import TooManyAttemptsError

log = get_logger(__name__)


class LoginThrottle:
    def __init__(self, throttle: Throttle, settings: Settings) -> None:
        window = settings.SIGHTLINE_LOGIN_WINDOW_S
        self._throttle = throttle
        self._per_email = rate(f"{settings.SIGHTLINE_LOGIN_MAX_FAILURES}/{window} seconds")
        self._per_address = rate(
            f"{settings.SIGHTLINE_LOGIN_MAX_FAILURES_PER_ADDRESS}/{window} seconds"
        )

    async def ensure_allowed(self, email: str, address: str) -> None:
        try:
            for limit, key in self._keys(email, address):
                verdict = await self._throttle.check(limit, *key)
                if not verdict.allowed:
                    raise TooManyAttemptsError(verdict.retry_after_s)
        except RedisError as exc:
            log.warning("login_throttle.unavailable", error=type(exc).__name__)

    async def record_failure(self, email: str, address: str) -> None:
        try:
            for limit, key in self._keys(email, address):
                await self._throttle.hit(limit, *key)
        except RedisError as exc:
            log.warning("login_throttle.unavailable", error=type(exc).__name__)

    async def record_success(self, email: str) -> None:
        try:
            await self._throttle.clear(self._per_email, "login-email", digest(email))
        except RedisError as exc:
            log.warning("login_throttle.unavailable", error=type(exc).__name__)

    def _keys(self, email: str, address: str) -> list[tuple[RateLimitItem, tuple[str, str]]]:
        return [
            (self._per_email, ("login-email", digest(email))),
            (self._per_address, ("login-address", address)),
        ]
