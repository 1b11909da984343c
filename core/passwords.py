"""Password hashing with argon2id, kept off the event loop.

Parameters are argon2-cffi's defaults (RFC 9106's low-memory profile: t=3,
m=64 MiB, p=4). Each hash holds 64 MiB while it runs, so at most
`MAX_CONCURRENT_HASHES` run at once.
"""

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MAX_CONCURRENT_HASHES = 4
MIN_LENGTH = 10
MAX_LENGTH = 1024


class PasswordPolicyError(ValueError):
    """The password is not acceptable; the message says why."""


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_HASHES)
        self._dummy_hash: str | None = None

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


def check_policy(password: str, email: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(f"The password must have at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"The password must have at most {MAX_LENGTH} characters.")
    if password.strip().casefold() == email.strip().casefold():
        raise PasswordPolicyError("The password must not be the email address.")
