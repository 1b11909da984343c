"""A small recorded site, and a twin database to run the same work on untouched."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from redis.asyncio import Redis

from core.config import Settings
from storage.database import Client, Database
from tests.accounts_helpers import data
from tests.graphql_client import gql
from tests.ingest_helpers import batch_body, send_recording, shop_events
from tests.world_fixtures import Site, new_site
from workers.queue import Job, JobQueue

START_MS = 1_795_910_773_345
VISITORS = {"session-0001": "visitor-0001", "session-0002": "visitor-0002"}
RECORD_INPUTS = "mutation($id: ID!) { updateSite(id: $id, changes: {recordInputs: true}) { id } }"


def session_events(offset_ms: int, copies: int = 1) -> list[dict[str, Any]]:
    """The real shop recording (`copies` times over), starting `offset_ms` after START_MS."""
    events = shop_events() * copies
    return [{**e, "timestamp": START_MS + offset_ms + i * 50} for i, e in enumerate(events)]


async def recorded_site(client: httpx.AsyncClient, *, batch_size: int = 8) -> Site:
    """A site keeping typed inputs (so scans find personal data) with two recorded sessions."""
    site = await new_site(client)
    data(await gql(client, RECORD_INPUTS, {"id": site.id}, token=site.token))
    for n, (session_id, visitor_id) in enumerate(VISITORS.items()):
        await send_recording(
            client,
            site.tracking_key,
            session_events(n * 60_000),
            batch_size=batch_size,
            session_id=session_id,
            visitor_id=visitor_id,
        )
    return site


@asynccontextmanager
async def twin(
    settings: Settings, mongo_client: Client, redis: Redis
) -> AsyncIterator[tuple[Settings, Database, JobQueue]]:
    """Another database and queue, for a run of the same jobs that nothing interrupts."""
    run = uuid.uuid4().hex[:12]
    other = settings.model_copy(
        update={"MONGODB_DATABASE": f"test_{run}", "SIGHTLINE_QUEUE_NAME": f"test:{run}"}
    )
    try:
        yield other, mongo_client[other.MONGODB_DATABASE], queue_of(other, redis)
    finally:
        await mongo_client.drop_database(other.MONGODB_DATABASE)


def queue_of(settings: Settings, redis: Redis) -> JobQueue:
    return JobQueue(redis, settings.SIGHTLINE_QUEUE_NAME)


async def enqueue_all(queue: JobQueue, jobs: list[tuple[Job, tuple[Any, ...]]]) -> None:
    for job, args in jobs:
        await queue.enqueue(job, *args)


SESSIONS = "query($s: ID!) { sessions(siteId: $s) { nodes { sessionId replayUrl } } }"


async def replays(client: httpx.AsyncClient, token: str, site_id: str) -> dict[str, list[Any]]:
    """Each session's replay, as the dashboard's player downloads it."""
    nodes = data(await gql(client, SESSIONS, {"s": site_id}, token=token))["sessions"]["nodes"]
    found = {}
    for node in nodes:
        response = await client.get(node["replayUrl"].removeprefix("http://sightline.test"))
        assert response.status_code == 200, response.text
        found[node["sessionId"]] = response.json()
    return found


def batch(site: Site, session_id: str, seq: int, events: list[Any]) -> dict[str, Any]:
    return batch_body(
        site.tracking_key, events, seq=seq, session_id=session_id, visitor_id=f"v-{session_id}"
    )
