"""Redis stops while browsers keep sending: every batch is stored, and once Redis is
back the worker's outbox sweep gets every session processed and compacted, once."""

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from core.config import Settings
from scripts.local_services import Service, start_redis
from storage.database import Database
from tests.conftest import serve
from tests.faults import state
from tests.faults.scenario import batch, replays, session_events
from tests.ingest_helpers import batches_of, post_batch
from tests.workers_helpers import run_worker_burst
from tests.world_fixtures import new_site
from workers import recording_jobs
from workers.queue import JobQueue


async def _sweep(settings: Settings, db: Database, redis: Redis) -> None:
    """What the worker's `cron:sweep-recordings` does once a minute."""
    ctx = {"db": db, "settings": settings, "queue": JobQueue(redis, settings.SIGHTLINE_QUEUE_NAME)}
    await recording_jobs.sweep_recordings(ctx)


async def test_batches_sent_while_redis_is_down_are_all_processed_and_compacted_once(
    settings: Settings,
    db: Database,
    own_redis: Service,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(recording_jobs, "OUTBOX_GRACE", timedelta(0))
    settings = settings.model_copy(
        update={"REDIS_URL": own_redis.url, "SIGHTLINE_COMPACT_PART_BYTES": 1024}
    )
    sent = {"session-across": session_events(0, 2), "session-during": session_events(60_000, 2)}
    batches = {s: batches_of(events, 8) for s, events in sent.items()}
    plan = {
        "before": [("session-across", seq) for seq in range(0, 5)],
        "during": [("session-across", seq) for seq in range(5, 12)]
        + [("session-during", seq) for seq in range(len(batches["session-during"]))],
        "after": [("session-across", seq) for seq in range(12, len(batches["session-across"]))],
    }
    restarted: Service | None = None
    try:
        async with serve(settings) as client:
            site = await new_site(client)
            for phase, sends in plan.items():
                if phase == "during":
                    own_redis.stop()
                if phase == "after":
                    restarted = start_redis(tmp_path / "redis", own_redis.port)
                for session_id, seq in sends:
                    body = batch(site, session_id, seq, batches[session_id][seq])
                    response = await post_batch(client, body)
                    assert response.status_code == 200, (phase, response.text)
            stored = await state.recordings(db)

            redis = Redis.from_url(settings.redis_url)
            await _sweep(settings, db, redis)  # the outbox: stored, never queued
            await run_worker_burst(settings)
            assert await db["recording_chunks"].count_documents({"processed": False}) == 0
            await _sweep(settings.model_copy(update={"SIGHTLINE_COMPACT_QUIET_S": 0}), db, redis)
            await run_worker_burst(settings)
            await redis.aclose()

            assert await db["recording_chunks"].count_documents({}) == 0
            seqs = await state.seqs_by_session(db)
            assert seqs == {s: list(range(len(b))) for s, b in batches.items()}
            played = await replays(client, site.token, site.id)
    finally:
        if restarted is not None:
            restarted.stop()
    assert played == stored
    for session_id, events in sent.items():
        assert [e["timestamp"] for e in played[session_id]] == [e["timestamp"] for e in events]
    kinds = {
        s: Counter([e["kind"] async for e in db["events"].find({"session_id": s})]) for s in sent
    }
    # The same recording twice over: the same events, whatever the outage did to its batches.
    assert kinds["session-across"] == kinds["session-during"]
    assert kinds["session-across"]["click"] > 0
