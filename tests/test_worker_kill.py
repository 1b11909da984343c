"""A worker killed with SIGKILL in the middle of compaction loses and duplicates nothing."""

from datetime import timedelta

import httpx
from redis.asyncio import Redis

from core.config import Settings
from storage.database import Database
from tests.faults.workers import forget_dead_worker, run_until_crash
from tests.ingest_helpers import shop_events
from tests.recording_helpers import counts, replay, shop_session
from workers import compaction
from workers.queue import Job, JobQueue


async def test_sigkill_during_compaction_then_restart_gives_the_same_replay(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    events = shop_events() * 4
    events = [{**e, "timestamp": 1_795_910_773_345 + i * 50} for i, e in enumerate(events)]
    site = await shop_session(client, events=events, batch_size=2)
    before = await replay(client, site.token, site.id)
    chunks = (await counts(db))["recording_chunks"]
    await db["recording_chunks"].update_many({}, {"$set": {"processed": True}})

    settings = settings.model_copy(update={"SIGHTLINE_COMPACT_PART_BYTES": 1024})
    await JobQueue(redis, settings.SIGHTLINE_QUEUE_NAME).enqueue(
        Job.COMPACT_SESSION, site.id, "session-0001"
    )
    # The worker SIGKILLs itself once its first part is verified, before deleting its chunks.
    await run_until_crash(settings, "compaction.part_verified")
    midway = await counts(db)
    assert midway["recording_parts"] == 1
    assert 0 < midway["recording_chunks"] == chunks, "the part's chunks are still there"
    assert await replay(client, site.token, site.id) == before

    await forget_dead_worker(redis, db)  # its lease runs out
    limits = compaction.CompactionLimits(part_bytes=1024, lease=timedelta(seconds=2))
    report = await compaction.compact_session(db, site.id, "session-0001", limits=limits)
    assert report.status == "done"
    assert await replay(client, site.token, site.id) == before
    assert (await counts(db))["recording_chunks"] == 0
    seqs = [s async for p in db["recording_parts"].find({}) for s in p["seqs"]]
    assert sorted(seqs) == list(range(chunks))
