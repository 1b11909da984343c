"""Real worker processes for fault tests: started, crashed at a named step, restarted."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redis.asyncio import Redis

from core.config import Settings
from storage import claims
from storage.crash_points import VARIABLE
from storage.database import Database

REPO = Path(__file__).resolve().parents[2]


def process_env(settings: Settings, crash_at: str | None, **extra: str) -> dict[str, str]:
    """The environment of a Sightline process on the test's database and queue."""
    env = {
        **os.environ,
        "MONGODB_URL": settings.mongodb_url,
        "MONGODB_DATABASE": settings.MONGODB_DATABASE,
        "REDIS_URL": settings.redis_url,
        "SIGHTLINE_QUEUE_NAME": settings.SIGHTLINE_QUEUE_NAME,
        "SIGHTLINE_ENV": "development",
        **extra,
    }
    env.pop(VARIABLE, None)
    if crash_at is not None:
        env[VARIABLE] = crash_at
    return env


def start_worker(
    settings: Settings, *, crash_at: str | None = None, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """`python -m workers run` on the test's database and queue (its output to `log`)."""
    env = process_env(
        settings,
        crash_at,
        SIGHTLINE_PROCESS_DELAY_S="0",
        SIGHTLINE_COMPACT_PART_BYTES=str(settings.SIGHTLINE_COMPACT_PART_BYTES),
        SIGHTLINE_COMPACT_MAX_CHUNKS=str(settings.SIGHTLINE_COMPACT_MAX_CHUNKS),
    )
    with log.open("ab") if log else open(os.devnull, "wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "workers", "run"],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


async def run_until_crash(settings: Settings, crash_at: str, within_s: float = 90) -> None:
    """Run a worker that SIGKILLs itself at `crash_at`; fails if it never gets there."""
    worker = start_worker(settings, crash_at=crash_at)
    deadline = time.monotonic() + within_s
    try:
        while worker.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    assert worker.returncode == -signal.SIGKILL, f"the worker never reached {crash_at}"


async def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(10)


async def forget_dead_worker(redis: Redis, db: Database) -> None:
    """What time does for a killed worker, without the wait: arq's in-progress marks
    (job_timeout, 5 min) and the dead worker's session leases run out."""
    async for key in redis.scan_iter(match="arq:in-progress:*"):
        await redis.delete(key)
    past = datetime.now(UTC) - timedelta(seconds=1)
    await db[claims.COLLECTION].update_many({}, {"$set": {"until": past}})
