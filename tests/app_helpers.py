"""The API as tests build it: the production app with a cheap password hasher.

Production hashes with argon2id at RFC 9106's low-memory cost (64 MiB, 3 passes, 4 lanes:
tests/test_password_policy.py checks it); tests sign up and log in hundreds of times, so
they use argon2id at its smallest cost. Everything else is the production app.
"""

from typing import Any

from argon2 import PasswordHasher
from starlette.applications import Starlette

from api.app import create_app
from core.config import Settings
from core.passwords import Passwords


def cheap_hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def cheap_passwords() -> Passwords:
    return Passwords(cheap_hasher())


def make_app(settings: Settings, **options: Any) -> Starlette:
    """`create_app(settings, **options)` with `cheap_passwords()`."""
    return create_app(settings, passwords=cheap_passwords(), **options)
