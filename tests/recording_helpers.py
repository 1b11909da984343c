"""Shortcuts for tests of workers over real ingested recordings."""

from typing import Any

import httpx

from core.config import Settings
from storage.database import Database
from tests.accounts_helpers import data
from tests.graphql_client import gql
from tests.workers_helpers import run_worker_burst
from tests.world_fixtures import Site, ingest, new_site
from workers.queue import Job, JobQueue

SESSIONS = """query($s: ID!) {
  sessions(siteId: $s) { nodes { id sessionId replayUrl incomplete replayable } }
}"""


async def shop_session(
    client: httpx.AsyncClient, *, batch_size: int = 10, events: list[dict[str, Any]] | None = None
) -> Site:
    """A new account's shop site, with the real recording ingested."""
    site = await new_site(client)
    await ingest(client, site, events=events, batch_size=batch_size)
    return site


async def session_node(client: httpx.AsyncClient, token: str, site_id: str) -> dict[str, Any]:
    nodes = data(await gql(client, SESSIONS, {"s": site_id}, token=token))["sessions"]["nodes"]
    assert len(nodes) == 1
    node: dict[str, Any] = nodes[0]
    return node


async def replay(client: httpx.AsyncClient, token: str, site_id: str) -> list[dict[str, Any]]:
    url = (await session_node(client, token, site_id))["replayUrl"]
    response = await client.get(url.removeprefix("http://sightline.test"))
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()
    return events


async def run_job(settings: Settings, redis: Any, job: Job, *args: Any) -> None:
    await JobQueue(redis, settings.SIGHTLINE_QUEUE_NAME).enqueue(job, *args)
    await run_worker_burst(settings)


async def counts(db: Database) -> dict[str, int]:
    return {
        name: await db[name].count_documents({})
        for name in ("recording_chunks", "recording_parts", "events")
    }
