"""A chunk whose session document is missing is not kept forever.

Such a chunk is what a batch stored chunk-first and then answered 503 left (the
session and visitor writes failed), or one that raced its session's erasure. It
must not be re-queued every minute for nothing, and every way data leaves the
database (the outbox sweep, retention, each kind of erasure) must find it by its
own keys and time, not only through a session document.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from redis.asyncio import Redis

from core.config import Settings
from storage.database import Database
from tests.accounts_helpers import data
from tests.graphql_client import gql
from tests.ingest_helpers import batch_body, post_batch, shop_events
from tests.leftovers import mentions
from tests.server_clock import receive_earlier
from tests.workers_helpers import run_worker_burst
from tests.world_fixtures import Site
from workers import privacy, recording_jobs
from workers.queue import JobQueue

ORPHAN_SESSION, ORPHAN_VISITOR = "session-orphan-1", "visitor-orphan"
Removal = Callable[[httpx.AsyncClient, Database, Settings, Redis, str, str], Awaitable[None]]


async def _by_sweep(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis, token: str, site: str
) -> None:
    await receive_earlier(db, recording_jobs.OUTBOX_GRACE * 2, session_id=ORPHAN_SESSION)
    queue = JobQueue(redis, settings.SIGHTLINE_QUEUE_NAME)
    ctx = {"db": db, "settings": settings, "queue": queue}
    assert (await recording_jobs.sweep_recordings(ctx)).startswith("1 sessions to process")
    await run_worker_burst(settings)
    assert (await recording_jobs.sweep_recordings(ctx)).startswith("0 sessions to process")


async def _by_retention(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis, token: str, site: str
) -> None:
    mutation = "mutation($s: ID!) { updateSite(id: $s, changes: {retentionDays: 1}) { id } }"
    data(await gql(client, mutation, {"s": site}, token=token))
    await receive_earlier(db, timedelta(days=2), session_id=ORPHAN_SESSION)
    assert await privacy.schedule_retention(db, JobQueue(redis, settings.SIGHTLINE_QUEUE_NAME)) == 1
    await run_worker_burst(settings)


async def _by_erase_visitor(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis, token: str, site: str
) -> None:
    mutation = "mutation($s: ID!, $v: String!) { eraseVisitor(siteId: $s, visitorId: $v) { id } }"
    data(await gql(client, mutation, {"s": site, "v": ORPHAN_VISITOR}, token=token))
    await run_worker_burst(settings)


async def _by_erase_recordings(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis, token: str, site: str
) -> None:
    start = datetime.fromtimestamp(shop_events()[0]["timestamp"] / 1000, UTC)
    window = {"start": (start - timedelta(hours=1)).isoformat()}
    window["end"] = (start + timedelta(hours=1)).isoformat()
    mutation = "mutation($s: ID!, $r: TimeRange!) { eraseRecordings(siteId: $s, range: $r) { id } }"
    data(await gql(client, mutation, {"s": site, "r": window}, token=token))
    await run_worker_burst(settings)


REMOVALS: dict[str, Removal] = {
    "outbox sweep": _by_sweep,
    "retention": _by_retention,
    "erase visitor": _by_erase_visitor,
    "erase recordings": _by_erase_recordings,
}


async def _orphan_chunk(client: httpx.AsyncClient, db: Database, key: str) -> None:
    """A stored batch whose session and visitor documents were never written."""
    body = batch_body(key, shop_events()[:20], session_id=ORPHAN_SESSION, visitor_id=ORPHAN_VISITOR)
    assert (await post_batch(client, body)).json() == {"status": "stored"}
    await db["sessions"].delete_many({"session_id": ORPHAN_SESSION})
    await db["visitors"].delete_many({"visitor_id": ORPHAN_VISITOR})
    assert await db["recording_chunks"].count_documents({"session_id": ORPHAN_SESSION}) == 1


@pytest.mark.parametrize("removal", REMOVALS)
async def test_a_chunk_without_its_session_is_removed(
    client: httpx.AsyncClient,
    site: Site,
    db: Database,
    settings: Settings,
    redis: Redis,
    removal: str,
) -> None:
    await _orphan_chunk(client, db, site.tracking_key)

    await REMOVALS[removal](client, db, settings, redis, site.token, site.id)

    assert await mentions(db, [ORPHAN_SESSION, ORPHAN_VISITOR]) == []
