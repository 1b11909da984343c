"""Two and four worker processes on one queue: every job's effect happens exactly once,
and the outcome equals a run by a single worker doing one job at a time."""

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from core.config import Settings
from storage import privacy_requests
from storage.database import Client, Database
from tests.faults import state
from tests.faults.scenario import START_MS, enqueue_all, queue_of, session_events, twin
from tests.faults.workers import start_worker, stop_workers
from tests.ingest_helpers import send_recording
from tests.workers_helpers import run_worker_burst
from tests.world_fixtures import new_site
from workers.queue import Job

SESSIONS = [f"session-{n}" for n in range(6)]
Jobs = list[tuple[Job, tuple[Any, ...]]]


def _started(n: int) -> str:
    return datetime.fromtimestamp((START_MS + n * 60_000) / 1000, UTC).isoformat()


async def _record(client: httpx.AsyncClient) -> str:
    site = await new_site(client)
    for n, session_id in enumerate(SESSIONS):
        events = session_events(n * 60_000)
        await send_recording(
            client, site.tracking_key, events, batch_size=8,
            session_id=session_id, visitor_id=f"visitor-{n}",
        )  # fmt: skip
    return str(site.id)


async def _requests(db: Database, site_id: str) -> list[str]:
    """Privacy work on sessions the compactions of the second round leave alone."""
    asked = [
        ("erase_visitor", {"visitor_id": "visitor-2"}),
        ("export_visitor", {"visitor_id": "visitor-3"}),
        ("scan_recordings", {"from": _started(4), "to": _started(5), "redact": True}),
    ]
    ids = []
    for kind, parameters in asked:
        request = await privacy_requests.create_request(
            db, kind=kind, subject_hash="", requested_by="test", site_id=site_id,
            parameters=parameters,
        )  # fmt: skip
        ids.append(request["_id"])
    return ids


def _rounds(site_id: str, request_ids: list[str]) -> list[Jobs]:
    """Each session processed twice over (the two runs race), then compactions, privacy
    requests and a signal recomputation, all at once."""
    processing: Jobs = [(Job.PROCESS_SESSION, (site_id, s)) for s in SESSIONS for _ in range(2)]
    second: Jobs = [(Job.COMPACT_SESSION, (site_id, s)) for s in SESSIONS[:2]]
    second += [(Job.RUN_PRIVACY_REQUEST, (request_id,)) for request_id in request_ids]
    second.append((Job.RECOMPUTE_SESSION, (site_id, SESSIONS[5])))
    return [processing, second]


async def _idle(redis: Redis, settings: Settings, within_s: float = 120) -> None:
    """Wait until the queue is empty and no job is running."""
    queue = queue_of(settings, redis)
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        # (arq leaves a cron run's in-progress mark until it expires)
        running = [
            key
            async for key in redis.scan_iter(match="arq:in-progress:*")
            if not key.startswith(b"arq:in-progress:cron:")
        ]
        if await queue.queued_count() == 0 and not running:
            return
        await asyncio.sleep(0.1)
    left = await redis.zrange(settings.SIGHTLINE_QUEUE_NAME, 0, -1)
    raise AssertionError(f"the workers did not finish: queued {left}, running {running}")


@pytest.mark.parametrize("workers", [2, 4])
async def test_many_workers_do_each_job_once(
    workers: int,
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    redis: Redis,
    mongo_client: Client,
) -> None:
    settings = settings.model_copy(update={"SIGHTLINE_COMPACT_PART_BYTES": 1024})
    site_id = await _record(client)
    await redis.flushdb()
    rounds = _rounds(site_id, await _requests(db, site_id))
    async with twin(settings, mongo_client, redis) as (single, single_db, _):
        await state.clone(db, single_db)
        for jobs in rounds:
            await enqueue_all(queue_of(single, redis), jobs)
            await run_worker_burst(single, max_jobs=1)

        processes = [start_worker(settings) for _ in range(workers)]
        try:
            for jobs in rounds:
                await enqueue_all(queue_of(settings, redis), jobs)
                await _idle(redis, settings)
        finally:
            await stop_workers(processes)

        outcome = await state.snapshot(db)
        assert outcome == await state.snapshot(single_db)
        seqs = await state.seqs_by_session(db)
        assert seqs == await state.seqs_by_session(single_db)
    assert set(seqs) == set(SESSIONS) - {"session-2"}  # visitor-2 was erased
    assert all(s == list(range(10)) for s in seqs.values())  # each chunk stored once
    assert [r["status"] for r in outcome["privacy_requests"]] == ["done"] * 3
    assert outcome["exports"]
    assert outcome["heatmap_rollups"]
