"""The API killed between the write steps of a batch leaves nothing orphaned.

Whatever step the process dies after, the stored part is reachable: the session,
once written, is in the API, the snippet's retry is answered by what was really stored
("duplicate" once the chunk is written, "stored" before), the replay then holds
the whole batch, and retention removes every trace of it.
"""

import signal
from datetime import timedelta

import httpx
import pytest
from redis.asyncio import Redis

from core.config import Settings
from storage.database import Database
from tests.accounts_helpers import data
from tests.faults.api_process import start_api
from tests.faults.scenario import SESSIONS
from tests.graphql_client import gql
from tests.ingest_helpers import SHOP_ORIGIN, batch_body, post_batch, shop_events
from tests.leftovers import mentions
from tests.server_clock import receive_earlier
from tests.workers_helpers import run_worker_burst
from tests.world_fixtures import Site
from workers import privacy
from workers.queue import JobQueue

SESSION, VISITOR = "session-crash-1", "visitor-crash"
# Each write of a batch, in order, and the answer its retry must get.
STEPS = {
    "ingest.visitor_written": "stored",
    "ingest.session_written": "stored",
    "ingest.chunk_written": "duplicate",
}
# The sessions listed right after the cut: none before the session is written.
LISTED_AFTER = {"ingest.visitor_written": [], "ingest.session_written": [SESSION],
                "ingest.chunk_written": [SESSION]}  # fmt: skip


async def _orphans(db: Database) -> list[str]:
    """Chunks and parts whose session or visitor document is missing."""
    found = []
    for name in ("recording_chunks", "recording_parts"):
        async for piece in db[name].find({}, projection={"data": 0}):
            site, session, visitor = piece["site_id"], piece["session_id"], piece["visitor_id"]
            if not await db["sessions"].find_one({"_id": f"{site}:{session}"}):
                found.append(f"{name}: {piece['_id']} has no session")
            if not await db["visitors"].find_one({"_id": f"{site}:{visitor}"}):
                found.append(f"{name}: {piece['_id']} has no visitor")
    return found


@pytest.mark.parametrize("step", STEPS)
async def test_a_batch_cut_off_after_any_write_is_never_orphaned(
    client: httpx.AsyncClient, site: Site, db: Database, settings: Settings, redis: Redis, step: str
) -> None:
    events = shop_events()[:30]
    body = batch_body(site.tracking_key, events, session_id=SESSION, visitor_id=VISITOR)

    api, url = start_api(settings, crash_at=step)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as killed:
            with pytest.raises(httpx.TransportError):
                await killed.post("/ingest", json=body, headers={"Origin": SHOP_ORIGIN})
        assert api.wait(30) == -signal.SIGKILL, f"the API never reached {step}"
    finally:
        if api.poll() is None:
            api.kill()
            api.wait(10)

    assert await _orphans(db) == []
    listed = data(await gql(client, SESSIONS, {"s": site.id}, token=site.token))["sessions"]
    assert [s["sessionId"] for s in listed["nodes"]] == LISTED_AFTER[step]

    assert (await post_batch(client, body)).json() == {"status": STEPS[step]}
    await run_worker_burst(settings)
    assert await _orphans(db) == []
    [node] = data(await gql(client, SESSIONS, {"s": site.id}, token=site.token))["sessions"][
        "nodes"
    ]
    replay = await client.get(node["replayUrl"].removeprefix("http://sightline.test"))
    assert len(replay.json()) == len(events)

    await receive_earlier(db, timedelta(days=31), visitor_id=VISITOR)
    assert await privacy.schedule_retention(db, JobQueue(redis, settings.SIGHTLINE_QUEUE_NAME)) == 1
    await run_worker_burst(settings)
    assert await mentions(db, [SESSION, VISITOR]) == []
