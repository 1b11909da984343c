"""What most API tests start from: an account, its site, an API key, an ingested recording.

Each is made through the public API, as a user would make it, so a test that starts from
one still goes through sign-up, site creation and ingest; the test states only what it is
about. Tests of sign-up or site creation themselves call `tests.accounts_helpers` directly.
`tests/conftest.py` makes these fixtures available to every test.
"""

from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import pytest_asyncio

from core.config import Settings
from tests.accounts_helpers import create_key, create_site, sign_up
from tests.ingest_helpers import SHOP_DOMAIN, send_recording, shop_events
from tests.workers_helpers import run_worker_burst

OWNER_EMAIL = "owner@example.com"


@dataclass(frozen=True)
class Account:
    email: str
    token: str  # a session token, as signUp hands it out


@dataclass(frozen=True)
class Site:
    """A site of a new account, taking recordings from the tests' shop page (SHOP_DOMAIN)."""

    id: str
    tracking_key: str
    token: str  # the owner's session token


@dataclass(frozen=True)
class ApiKey:
    id: str
    secret: str  # what callers send as a bearer token
    scopes: tuple[str, ...]
    site_ids: tuple[str, ...] | None  # None: every site of the account


@dataclass(frozen=True)
class Recording:
    """The shop recording, sent through `POST /ingest` to a site."""

    site: Site
    session_id: str
    visitor_id: str
    events: list[dict[str, Any]]


class MakeApiKey(Protocol):
    async def __call__(
        self, scopes: list[str], site_ids: list[str] | None = None, *, name: str = ...
    ) -> ApiKey: ...


class IngestRecording(Protocol):
    async def __call__(
        self,
        site: Site,
        *,
        events: list[dict[str, Any]] | None = None,
        batch_size: int = ...,
        session_id: str = ...,
        visitor_id: str = ...,
        process: bool = ...,
    ) -> Recording: ...


async def new_account(client: httpx.AsyncClient, email: str = OWNER_EMAIL) -> Account:
    return Account(email, await sign_up(client, email))


async def new_site(
    client: httpx.AsyncClient, email: str = OWNER_EMAIL, *, domains: list[str] | None = None
) -> Site:
    """A new account's site; for tests that serve an API of their own (`serve(settings)`)."""
    return await site_of(client, await new_account(client, email), domains=domains)


async def site_of(
    client: httpx.AsyncClient, owner: Account, *, domains: list[str] | None = None
) -> Site:
    created = await create_site(client, owner.token, domains=domains or [SHOP_DOMAIN])
    return Site(created["id"], created["trackingKey"], owner.token)


async def ingest(
    client: httpx.AsyncClient,
    site: Site,
    *,
    events: list[dict[str, Any]] | None = None,
    batch_size: int = 20,
    session_id: str = "session-0001",
    visitor_id: str = "visitor-0001",
) -> Recording:
    """Send `events` (the shop recording by default) as the snippet would, batch by batch."""
    sent = shop_events() if events is None else events
    await send_recording(
        client,
        site.tracking_key,
        sent,
        batch_size=batch_size,
        session_id=session_id,
        visitor_id=visitor_id,
    )
    return Recording(site, session_id, visitor_id, sent)


@pytest_asyncio.fixture
async def account(client: httpx.AsyncClient) -> Account:
    return await new_account(client)


@pytest_asyncio.fixture
async def site(client: httpx.AsyncClient, account: Account) -> Site:
    return await site_of(client, account)


@pytest_asyncio.fixture
async def api_key(client: httpx.AsyncClient, account: Account) -> MakeApiKey:
    """Makes keys of `account` (the `site` fixture's owner too) with the given scopes."""

    async def make(
        scopes: list[str], site_ids: list[str] | None = None, *, name: str = "integration"
    ) -> ApiKey:
        created = await create_key(client, account.token, scopes, site_ids, name=name)
        key = created["apiKey"]
        limited = None if key["siteIds"] is None else tuple(key["siteIds"])
        return ApiKey(key["id"], created["secret"], tuple(key["scopes"]), limited)

    return make


@pytest_asyncio.fixture
async def ingest_recording(client: httpx.AsyncClient, settings: Settings) -> IngestRecording:
    """Ingests the shop recording into a site; `process=True` then runs the worker until
    the queue is empty, so sessions, events and heatmaps are there too."""

    async def send(
        site: Site,
        *,
        events: list[dict[str, Any]] | None = None,
        batch_size: int = 20,
        session_id: str = "session-0001",
        visitor_id: str = "visitor-0001",
        process: bool = False,
    ) -> Recording:
        recording = await ingest(
            client,
            site,
            events=events,
            batch_size=batch_size,
            session_id=session_id,
            visitor_id=visitor_id,
        )
        if process:
            await run_worker_burst(settings)
        return recording

    return send
