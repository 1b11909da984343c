"""Slowing down password guessing, without letting a guesser lock the owner out.

Every password check is counted *before* argon2 runs, in one atomic step with
the check of the limits (`core/attempts.py`), so concurrent guesses cannot all
slip through; a check that succeeds is then taken back. Three windows:

- per email and client address (`SIGHTLINE_LOGIN_MAX_FAILURES`, 5): the owner's
  own typos, and one address guessing one account;
- per client address (`SIGHTLINE_LOGIN_MAX_FAILURES_PER_ADDRESS`, 50): one
  address trying many accounts;
- per email (`SIGHTLINE_LOGIN_MAX_FAILURES_PER_EMAIL`, 100): a ceiling on
  guesses at one account from many addresses. Well above the first, so failures
  from other addresses do not lock the owner out until it is reached.

Emails and addresses are keyed hashes in Redis. If Redis cannot be reached,
logins are not throttled (argon2's cost still bounds guessing) and the outage
is logged.
"""

from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.attempts import Attempts, Window
from core.config import Settings
from core.credentials import keyed_hash
from core.errors import TooManyAttempts
from core.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class LoginAttempt:
    """An admitted password check, counted as a failure until it succeeds."""

    attempt: str | None  # None when Redis was unreachable and nothing was counted
    windows: tuple[Window, ...]  # the (email, address) window first


class LoginThrottle:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._attempts = Attempts(
            redis, window_s=settings.SIGHTLINE_LOGIN_WINDOW_S, namespace="sightline:login"
        )
        self._secret_key = settings.secret_key
        self._per_email_and_address = settings.SIGHTLINE_LOGIN_MAX_FAILURES
        self._per_address = settings.SIGHTLINE_LOGIN_MAX_FAILURES_PER_ADDRESS
        self._per_email = settings.SIGHTLINE_LOGIN_MAX_FAILURES_PER_EMAIL

    async def admit(self, email: str, address: str) -> LoginAttempt:
        """Count a password check about to run; `TooManyAttempts` when over a limit."""
        windows = self._windows(email, address)
        try:
            admission = await self._attempts.admit(windows)
        except RedisError as exc:
            log.warning("login_throttle.unavailable", error=type(exc).__name__)
            return LoginAttempt(None, windows)
        if admission.attempt is None:
            raise TooManyAttempts(admission.retry_after_s)
        return LoginAttempt(admission.attempt, windows)

    async def succeeded(self, login: LoginAttempt) -> None:
        """The password was right: not a failure, and this pair's earlier typos are forgiven.

        The address and email windows keep their other failures, so a guesser cannot
        reset them by signing in to an account of their own.
        """
        if login.attempt is None:
            return
        pair, *others = login.windows
        try:
            await self._attempts.take_back(login.attempt, others)
            await self._attempts.clear(pair)
        except RedisError as exc:
            log.warning("login_throttle.unavailable", error=type(exc).__name__)

    def _windows(self, email: str, address: str) -> tuple[Window, ...]:
        email_id = keyed_hash(self._secret_key, f"login-email:{email}")
        address_id = keyed_hash(self._secret_key, f"login-address:{address}")
        return (
            Window(f"pair:{email_id}:{address_id}", self._per_email_and_address),
            Window(f"address:{address_id}", self._per_address),
            Window(f"email:{email_id}", self._per_email),
        )
