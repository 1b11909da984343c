"""Login throttling under concurrent guesses, and without locking the owner out.

Requests come from several client addresses (one HTTP client per address over
the same app), and the app's password checker counts every argon2 check.
"""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from redis.asyncio import Redis
from starlette.applications import Starlette

from core.config import Settings
from core.passwords import Passwords
from scripts.local_services import Service
from storage.database import Database
from tests.accounts_helpers import LOG_IN, PASSWORD, data, error_code, sign_up
from tests.app_helpers import cheap_hasher, make_app
from tests.graphql_client import gql

VICTIM = "victim@example.com"
ATTACKER = "198.51.100.66"
OWNER = "203.0.113.10"
GUESSES = 30


class CountingPasswords(Passwords):
    """The real checker, counting how many passwords it verified."""

    def __init__(self) -> None:
        super().__init__(cheap_hasher())
        self.checks = 0

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        self.checks += 1
        return await super().verify(stored_hash, password)


@dataclass
class Api:
    app: Starlette
    passwords: CountingPasswords
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    def at(self, address: str) -> httpx.AsyncClient:
        """A client whose requests come from `address`."""
        if address not in self.clients:
            transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
            self.clients[address] = httpx.AsyncClient(
                transport=transport, base_url="http://sightline.test"
            )
        return self.clients[address]


@asynccontextmanager
async def serve_counting(settings: Settings, **limits: int) -> AsyncIterator[Api]:
    app = make_app(settings.model_copy(update=limits))
    async with LifespanManager(app):
        passwords = CountingPasswords()
        app.state.resources = replace(app.state.resources, passwords=passwords)
        api = Api(app, passwords)
        try:
            yield api
        finally:
            for client in api.clients.values():
                await client.aclose()


def _codes(bodies: list[dict[str, Any]]) -> Counter[str]:
    return Counter(error_code(body) for body in bodies)


CHANGE_PASSWORD = "mutation($p: String!) { changePassword(currentPassword: $p, newPassword: $p) }"
DELETE_ACCOUNT = "mutation($p: String!) { deleteAccount(password: $p) { id } }"
WRONG = "not the right password"

# Every operation that checks an existing password: (document, variables, signed in).
CHECKS = {
    "logIn": (LOG_IN, {"email": VICTIM, "password": WRONG}, False),
    "changePassword": (CHANGE_PASSWORD, {"p": WRONG}, True),
    "deleteAccount": (DELETE_ACCOUNT, {"p": WRONG}, True),
}


@pytest.mark.parametrize("operation", CHECKS)
async def test_concurrent_wrong_passwords_are_checked_at_most_limit_times(
    settings: Settings, db: Database, redis: Redis, operation: str
) -> None:
    document, variables, signed_in = CHECKS[operation]
    async with serve_counting(settings) as api:
        client = api.at(ATTACKER)
        token = await sign_up(client, VICTIM)

        bodies = await asyncio.gather(
            *(
                gql(client, document, variables, token=token if signed_in else None)
                for _ in range(GUESSES)
            )
        )

        limit = settings.SIGHTLINE_LOGIN_MAX_FAILURES
        assert api.passwords.checks == limit, bodies
        assert _codes(bodies) == {"UNAUTHENTICATED": limit, "TOO_MANY_ATTEMPTS": GUESSES - limit}, (
            bodies
        )


# Each window, filled by concurrent guesses that only it counts together.
WINDOWS: dict[str, tuple[str, Callable[[int], tuple[str, str]]]] = {
    "email and address": ("SIGHTLINE_LOGIN_MAX_FAILURES", lambda n: (VICTIM, ATTACKER)),
    "address": (
        "SIGHTLINE_LOGIN_MAX_FAILURES_PER_ADDRESS",
        lambda n: (f"u{n}@x.io", ATTACKER),
    ),
    "email": ("SIGHTLINE_LOGIN_MAX_FAILURES_PER_EMAIL", lambda n: (VICTIM, f"198.51.100.{n}")),
}


@pytest.mark.parametrize("window", WINDOWS)
async def test_each_window_holds_under_concurrent_guesses(
    settings: Settings, db: Database, redis: Redis, window: str
) -> None:
    setting, guess = WINDOWS[window]
    async with serve_counting(settings, **{setting: 4}) as api:
        await sign_up(api.at(OWNER), VICTIM)

        async def one(n: int) -> dict[str, Any]:
            email, address = guess(n)
            return await gql(api.at(address), LOG_IN, {"email": email, "password": WRONG})

        bodies = await asyncio.gather(*(one(n) for n in range(GUESSES)))

        assert api.passwords.checks == 4, bodies
        assert _codes(bodies) == {"UNAUTHENTICATED": 4, "TOO_MANY_ATTEMPTS": GUESSES - 4}, bodies


async def test_guesses_from_elsewhere_do_not_lock_the_owner_out(
    settings: Settings, db: Database, redis: Redis
) -> None:
    async with serve_counting(settings) as api:
        await sign_up(api.at(OWNER), VICTIM)
        wrong = {"email": VICTIM, "password": WRONG}
        bodies = [await gql(api.at(ATTACKER), LOG_IN, wrong) for _ in range(8)]
        assert _codes(bodies) == {"UNAUTHENTICATED": 5, "TOO_MANY_ATTEMPTS": 3}

        owner = await gql(api.at(OWNER), LOG_IN, {"email": VICTIM, "password": PASSWORD})
        data(owner)
        blocked = await gql(api.at(ATTACKER), LOG_IN, {"email": VICTIM, "password": PASSWORD})
        assert error_code(blocked) == "TOO_MANY_ATTEMPTS"


async def test_the_per_email_ceiling_holds_across_addresses(
    settings: Settings, db: Database, redis: Redis
) -> None:
    limits = {"SIGHTLINE_LOGIN_MAX_FAILURES": 2, "SIGHTLINE_LOGIN_MAX_FAILURES_PER_EMAIL": 6}
    async with serve_counting(settings, **limits) as api:
        await sign_up(api.at(OWNER), VICTIM)
        wrong = {"email": VICTIM, "password": WRONG}
        for n in range(3):
            for _ in range(2):
                body = await gql(api.at(f"198.51.100.{n}"), LOG_IN, wrong)
                assert error_code(body) == "UNAUTHENTICATED"

        fourth = await gql(api.at("198.51.100.3"), LOG_IN, wrong)
        assert error_code(fourth) == "TOO_MANY_ATTEMPTS"
        owner = await gql(api.at(OWNER), LOG_IN, {"email": VICTIM, "password": PASSWORD})
        assert error_code(owner) == "TOO_MANY_ATTEMPTS"
        assert api.passwords.checks == 6


async def test_a_right_password_is_not_counted_as_a_failure(
    settings: Settings, db: Database, redis: Redis
) -> None:
    limits = {"SIGHTLINE_LOGIN_MAX_FAILURES": 3, "SIGHTLINE_LOGIN_MAX_FAILURES_PER_ADDRESS": 3}
    async with serve_counting(settings, **limits) as api:
        client = api.at(OWNER)
        await sign_up(client, VICTIM)
        right = {"email": VICTIM, "password": PASSWORD}
        wrong = {"email": VICTIM, "password": WRONG}
        for _ in range(4):
            data(await gql(client, LOG_IN, right))

        # Two typos, then the right password: the typos are forgiven for this address...
        for _ in range(2):
            assert error_code(await gql(client, LOG_IN, wrong)) == "UNAUTHENTICATED"
        data(await gql(client, LOG_IN, right))
        # ...but still count in the address's window.
        assert error_code(await gql(client, LOG_IN, wrong)) == "UNAUTHENTICATED"
        assert error_code(await gql(client, LOG_IN, wrong)) == "TOO_MANY_ATTEMPTS"


async def test_logins_work_while_redis_is_down(
    settings: Settings, db: Database, own_redis: Service
) -> None:
    async with serve_counting(settings.model_copy(update={"REDIS_URL": own_redis.url})) as api:
        client = api.at(OWNER)
        await sign_up(client, VICTIM)
        own_redis.stop()

        data(await gql(client, LOG_IN, {"email": VICTIM, "password": PASSWORD}))
        wrong = await gql(client, LOG_IN, {"email": VICTIM, "password": WRONG})
        assert error_code(wrong) == "UNAUTHENTICATED"
