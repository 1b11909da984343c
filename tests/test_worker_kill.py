"""A worker killed with SIGKILL in the middle of compaction loses and duplicates nothing."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
from redis.asyncio import Redis

from core.config import Settings
from storage.database import Database
from tests.ingest_helpers import shop_events
from tests.recording_helpers import counts, replay, shop_session
from workers import compaction
from workers.queue import Job, JobQueue


def _worker(settings: Settings, repo_root: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MONGODB_URL": settings.mongodb_url,
        "MONGODB_DATABASE": settings.MONGODB_DATABASE,
        "REDIS_URL": settings.redis_url,
        "SIGHTLINE_QUEUE_NAME": settings.SIGHTLINE_QUEUE_NAME,
        "SIGHTLINE_ENV": "development",
        "SIGHTLINE_COMPACT_PART_BYTES": "1024",
        "SIGHTLINE_COMPACT_LEASE_S": "2",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "workers", "run"],
        cwd=repo_root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _wait_for_parts(db: Database, at_least: int, within_s: float = 60) -> int:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        found = await db["recording_parts"].count_documents({})
        if found >= at_least:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {at_least} parts after {within_s} s")


async def test_sigkill_during_compaction_then_restart_gives_the_same_replay(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis, repo_root: Path
) -> None:
    events = shop_events() * 4
    events = [{**e, "timestamp": 1_795_910_773_345 + i * 50} for i, e in enumerate(events)]
    token, site = await shop_session(client, events=events, batch_size=2)
    before = await replay(client, token, site["id"])
    chunks = (await counts(db))["recording_chunks"]
    await db["recording_chunks"].update_many({}, {"$set": {"processed": True}})

    worker = _worker(settings, repo_root)
    try:
        await JobQueue(redis, settings.SIGHTLINE_QUEUE_NAME).enqueue(
            Job.COMPACT_SESSION, site["id"], "session-0001"
        )
        await _wait_for_parts(db, 3)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    midway = await counts(db)
    assert 0 < midway["recording_chunks"] < chunks, "the kill did not land mid-compaction"
    assert await replay(client, token, site["id"]) == before

    await asyncio.sleep(2.2)  # the dead worker's lease runs out
    limits = compaction.CompactionLimits(part_bytes=1024, lease=timedelta(seconds=2))
    report = await compaction.compact_session(db, site["id"], "session-0001", limits=limits)
    assert report.status == "done"
    assert await replay(client, token, site["id"]) == before
    assert (await counts(db))["recording_chunks"] == 0
    seqs = [s async for p in db["recording_parts"].find({}) for s in p["seqs"]]
    assert sorted(seqs) == list(range(chunks))
