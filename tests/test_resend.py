"""A batch sent again is a retry whatever became of its session since: it answers
"duplicate" (or "erased") and stores nothing, raw, processed, compacted or erased."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from core.config import Settings
from storage import parts, recordings
from storage.database import Database
from tests.accounts_helpers import data
from tests.faults import state
from tests.graphql_client import gql
from tests.ingest_helpers import batch_body, batches_of, post_batch, shop_events
from tests.recording_helpers import run_job
from tests.world_fixtures import Site
from workers import compaction, privacy
from workers.queue import Job

SESSION = "session-0001"
ERASE = 'mutation($s: ID!) { eraseVisitor(siteId: $s, visitorId: "visitor-0001") { id } }'


@dataclass
class World:
    client: httpx.AsyncClient
    db: Database
    settings: Settings
    redis: Redis
    token: str
    site: Site
    bodies: list[dict[str, Any]]

    async def send(self, body: dict[str, Any]) -> Any:
        response = await post_batch(self.client, body)
        assert response.status_code == 200, response.text
        self.bodies.append(body)
        return response.json()

    async def compact(self, **kwargs: Any) -> compaction.CompactionReport:
        return await compaction.compact_session(self.db, self.site.id, SESSION, **kwargs)


async def _raw(world: World) -> None:
    pass


async def _processed(world: World) -> None:
    await run_job(world.settings, world.redis, Job.PROCESS_SESSION, world.site.id, SESSION)


async def _partly_compacted(world: World) -> None:
    chunks = await recordings.session_chunks(world.db, world.site.id, SESSION)
    seqs = [c["seq"] for c in chunks[: len(chunks) // 2]]
    await recordings.mark_processed(world.db, world.site.id, SESSION, seqs)
    assert (await world.compact(only_processed=True)).chunks_removed > 0


async def _compacted(world: World) -> None:
    await run_job(world.settings, world.redis, Job.COMPACT_SESSION, world.site.id, SESSION)


async def _compacted_in_small_parts(world: World) -> None:
    report = await world.compact(limits=compaction.CompactionLimits(part_bytes=1024))
    assert report.parts_written > 1


async def _compacted_again_after_a_late_batch(world: World) -> None:
    await world.compact()
    late = [{**e, "timestamp": e["timestamp"] + 60_000} for e in shop_events()[-3:]]
    body = batch_body(world.site.tracking_key, late, seq=len(world.bodies))
    assert await world.send(body) == {"status": "stored"}
    await world.compact()


def _dies_at(module: Any, step: str) -> Callable[[World], Awaitable[None]]:
    async def interrupted(world: World) -> None:
        async def crash(*args: Any, **kwargs: Any) -> None:
            raise ConnectionError(f"worker died during {step}")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(module, step, crash)
            with pytest.raises(ConnectionError):
                await world.compact()

    return interrupted


async def _erased(world: World) -> None:
    variables = {"s": world.site.id}
    request = data(await gql(world.client, ERASE, variables, token=world.token))["eraseVisitor"]
    await privacy.run_privacy_request(world.db, world.settings.secret_key, request["id"])


STATES: dict[str, Callable[[World], Awaitable[None]]] = {
    "raw": _raw,
    "processed": _processed,
    "partly compacted": _partly_compacted,
    "compacted": _compacted,
    "compacted in small parts": _compacted_in_small_parts,
    "compacted again after a late batch": _compacted_again_after_a_late_batch,
    "compaction died before verifying": _dies_at(parts, "mark_verified"),
    "compaction died before deleting chunks": _dies_at(recordings, "delete_chunks"),
    "erased": _erased,
}


async def _stored(db: Database) -> dict[str, Any]:
    return {
        "recordings": await state.recordings(db),
        "seqs": await state.seqs_by_session(db),
        "chunks": await db["recording_chunks"].count_documents({}),
        "parts": await db["recording_parts"].count_documents({}),
    }


@pytest.mark.parametrize("state_name", STATES)
async def test_every_batch_resent_in_any_session_state_is_a_retry(
    state_name: str,
    client: httpx.AsyncClient,
    site: Site,
    db: Database,
    settings: Settings,
    redis: Redis,
) -> None:
    world = World(client, db, settings, redis, site.token, site, [])
    for seq, events in enumerate(batches_of(shop_events(), 10)):
        assert await world.send(batch_body(site.tracking_key, events, seq=seq)) == {
            "status": "stored"
        }
    await STATES[state_name](world)
    before = await _stored(db)

    answers = [await world.send(body) for body in list(world.bodies)]

    retry = {"status": "ignored", "reason": "erased"} if state_name == "erased" else None
    assert answers == [retry or {"status": "duplicate"}] * len(answers)
    assert await _stored(db) == before
