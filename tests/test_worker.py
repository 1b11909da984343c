import asyncio

import orjson
from arq.worker import Worker, async_check_health
from redis.asyncio import Redis

from core.config import Settings
from storage.database import Database
from storage.heartbeats import latest_heartbeats
from tests.workers_helpers import run_worker_burst
from workers.jobs import WORKER_NAME
from workers.queue import Job, JobQueue
from workers.settings import worker_settings


async def test_heartbeat_job_runs_through_redis_and_reaches_mongodb(
    settings: Settings, db: Database, redis: Redis
) -> None:
    queue = JobQueue(redis, settings.SIGHTLINE_QUEUE_NAME)
    assert await queue.enqueue(Job.HEARTBEAT, job_id="beat-1")
    assert await queue.queued_count() == 1

    # No crons: a slow run could reach a cron tick and count a second job.
    worker = await run_worker_burst(settings, cron_jobs=[])

    assert worker.jobs_complete == 1
    assert worker.jobs_failed == 0
    assert await queue.queued_count() == 0
    beats = await latest_heartbeats(db)
    assert [b["_id"] for b in beats] == [WORKER_NAME]
    assert beats[0]["beats"] == 1


async def test_a_job_id_is_enqueued_once(settings: Settings, redis: Redis) -> None:
    queue = JobQueue(redis, settings.SIGHTLINE_QUEUE_NAME)
    assert await queue.enqueue(Job.HEARTBEAT, job_id="same") is True
    assert await queue.enqueue(Job.HEARTBEAT, job_id="same") is False
    assert await queue.queued_count() == 1


async def test_job_payloads_are_json_not_pickle(settings: Settings, redis: Redis) -> None:
    queue = JobQueue(redis, settings.SIGHTLINE_QUEUE_NAME)
    await queue.enqueue(Job.HEARTBEAT, "arg", job_id="inspect-me")
    raw = await redis.get("arq:job:inspect-me")
    assert raw is not None
    payload = orjson.loads(raw)
    assert payload["f"] == "heartbeat"
    assert payload["a"] == ["arg"]


async def test_worker_health_check_follows_a_running_worker(
    settings: Settings, db: Database, redis: Redis
) -> None:
    options = worker_settings(settings)

    async def check() -> int:
        code: int = await async_check_health(
            options["redis_settings"], queue_name=options["queue_name"]
        )
        return code

    assert await check() == 1
    worker = Worker(**options, poll_delay=0.05, handle_signals=False)
    running = asyncio.create_task(worker.main())
    try:
        async with asyncio.timeout(10):
            while await check() != 0:
                await asyncio.sleep(0.05)
    finally:
        running.cancel()
        await worker.close()
    assert await check() == 1


async def test_a_worker_runs_as_many_jobs_at_once_as_configured(settings: Settings) -> None:
    limited = settings.model_copy(update={"SIGHTLINE_WORKER_MAX_JOBS": 2})
    worker = Worker(**worker_settings(limited), burst=True, handle_signals=False)
    try:
        assert worker.max_jobs == 2
    finally:
        await worker.close()
