"""Password hashing with argon2id, and the policy a new password must meet.

Hashing parameters are argon2-cffi's defaults (RFC 9106's low-memory profile:
t=3, m=64 MiB, p=4). Each hash holds 64 MiB while it runs, so at most
`MAX_CONCURRENT_HASHES` run at once.

A new password is rated offline by zxcvbn (`core/password_strength.py`), which
estimates how many guesses a cracker needs. Login throttling allows at most a
few thousand guesses a day against one account (see docs/security.md), so a
password needs zxcvbn's score 2 (about a million guesses or more) to outlast it.
"""

import asyncio
import unicodedata
from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.password_strength import estimate

MAX_CONCURRENT_HASHES = 4
MIN_LENGTH = 10
MAX_LENGTH = 1024
MIN_STRENGTH = 2  # zxcvbn's score 0-4; 0 and 1 fall to a throttled online attack
_FORBIDDEN_CATEGORIES = {"Cc", "Cs"}  # control characters and lone surrogates


class PasswordPolicyError(ValueError):
    """The password is not acceptable; the message says why."""


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_HASHES)
        self._dummy_hash: str | None = None
        self._estimates = asyncio.Lock()

    async def ensure_acceptable(self, password: str, user_inputs: Sequence[str]) -> None:
        """`check_policy` off the event loop: an estimate can take tens of milliseconds.

        One at a time, because zxcvbn keeps the user inputs in a module global
        (and a flood of sign-ups then takes one core, not all of them).
        """
        async with self._estimates:
            await asyncio.to_thread(check_policy, password, user_inputs)

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """Check `password`; with no stored hash, spend the same time and fail."""
        if stored_hash is None:
            stored_hash = await self._dummy()
            await self._verify(stored_hash, password)
            return False
        return await self._verify(stored_hash, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)

    async def _verify(self, stored_hash: str, password: str) -> bool:
        async with self._slots:
            try:
                return await asyncio.to_thread(self._hasher.verify, stored_hash, password)
            except (VerificationError, InvalidHashError):
                return False

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash("sightline-dummy-password-for-timing")
        return self._dummy_hash


def check_policy(password: str, user_inputs: Sequence[str]) -> None:
    """Refuse a new password, saying why; `user_inputs` start with the email address.

    The other inputs (the name, say) are words a guesser would try for this account.
    """
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(f"The password must have at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"The password must have at most {MAX_LENGTH} characters.")
    if any(unicodedata.category(char) in _FORBIDDEN_CATEGORIES for char in password):
        raise PasswordPolicyError(
            "The password must not contain control characters or unpaired surrogates."
        )
    if user_inputs and password.strip().casefold() == user_inputs[0].strip().casefold():
        raise PasswordPolicyError("The password must not be the email address.")
    _check_strength(password, user_inputs)


def _check_strength(password: str, user_inputs: Sequence[str]) -> None:
    strength = estimate(password, user_inputs)
    if strength.score < MIN_STRENGTH:
        raise PasswordPolicyError(
            " ".join(["The password is too easy to guess.", *strength.reasons])
        )
