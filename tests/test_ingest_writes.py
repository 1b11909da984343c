"""What a batch writes: its session and its chunk, and its visitor only when that is due.

Every write is a round trip, and FerretDB turns each update into a read and a
whole-document write, so a batch of a session already stored writes nothing
but the session and the chunk (whatever collection a future change touches is
counted too). Its visitor is written on the session's first batch and then at
most once a `visitors.REFRESH`, so retention, which reads the visitor's
`last_received_at`, still keeps a visitor who came back and erases one who did not.
"""

from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest_asyncio
from asgi_lifespan import LifespanManager
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)
from redis.asyncio import Redis

from api.app import create_app
from core.config import Settings
from storage import visitors
from storage.database import Database
from tests.accounts_helpers import data
from tests.graphql_client import gql
from tests.ingest_helpers import batch_body, batches_of, post_batch, shop_events
from tests.server_clock import receive_earlier
from tests.workers_helpers import run_worker_burst
from tests.world_fixtures import new_site
from workers import privacy
from workers.queue import JobQueue

WRITES = {"insert", "update", "delete", "findAndModify"}
RETENTION = "mutation($s: ID!) { updateSite(id: $s, changes: {retentionDays: 1}) { id } }"


class Writes(CommandListener):
    """The collections the API writes, one entry a write command."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.collections: Counter[str] = Counter()

    def started(self, event: CommandStartedEvent) -> None:
        if event.database_name == self.database and event.command_name in WRITES:
            self.collections[event.command[event.command_name]] += 1

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass


@pytest_asyncio.fixture
async def watched(
    settings: Settings, db: Database, redis: Redis
) -> AsyncIterator[tuple[httpx.AsyncClient, Writes]]:
    writes = Writes(settings.MONGODB_DATABASE)
    app = create_app(settings, listeners=[writes])
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sightline.test") as c:
            yield c, writes


async def _key(client: httpx.AsyncClient, *, retention_days_one: bool = False) -> str:
    site = await new_site(client)
    if retention_days_one:
        data(await gql(client, RETENTION, {"s": site.id}, token=site.token))
    key: str = site.tracking_key
    return key


async def _send(client: httpx.AsyncClient, key: str, seq: int, visitor: str) -> None:
    events = batches_of(shop_events(), 20)[seq]
    body = batch_body(key, events, seq=seq, session_id=f"session-{visitor}", visitor_id=visitor)
    assert (await post_batch(client, body)).json() == {"status": "stored"}


async def test_a_known_sessions_batch_writes_only_its_session_and_chunk(
    watched: tuple[httpx.AsyncClient, Writes],
) -> None:
    client, writes = watched
    key = await _key(client)
    await _send(client, key, 0, "visitor-1")
    for seq in (1, 2, 3):
        writes.collections.clear()
        await _send(client, key, seq, "visitor-1")
        assert writes.collections == {"sessions": 1, "recording_chunks": 1}, seq


async def _visitor_lag_of_every_session(db: Database) -> list[timedelta]:
    """How far each session's visitor's `last_received_at` is behind the session's last batch."""
    lags = []
    async for session in db["sessions"].find({}):
        visitor = await visitors.find_visitor(db, session["site_id"], session["visitor_id"])
        assert visitor is not None, session["_id"]
        lags.append(session["last_chunk_at"] - visitor["last_received_at"])
    return lags


async def test_retention_keeps_a_visitor_who_came_back_and_erases_one_who_did_not(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    key = await _key(client, retention_days_one=True)
    for visitor in ("visitor-back", "visitor-gone"):
        await _send(client, key, 0, visitor)
        await _send(client, key, 1, visitor)  # within a minute: the visitor is not written
        assert await receive_earlier(db, timedelta(days=2), visitor_id=visitor) > 0
    await _send(client, key, 2, "visitor-back")  # two days later, in the same session
    assert all(lag < visitors.REFRESH for lag in await _visitor_lag_of_every_session(db))

    await run_worker_burst(settings)
    assert await privacy.schedule_retention(db, JobQueue(redis, settings.SIGHTLINE_QUEUE_NAME)) == 1
    await run_worker_burst(settings)

    remaining = {doc["visitor_id"] async for doc in db["visitors"].find({})}
    assert remaining == {"visitor-back"}
    assert await db["sessions"].count_documents({"visitor_id": "visitor-gone"}) == 0
