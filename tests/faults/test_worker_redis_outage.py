"""Redis goes away for 10 s under a running worker process: the process stays up, keeps
trying with backoff, and once Redis is back the same process processes new batches."""

import asyncio
import subprocess
import time
from pathlib import Path

from core.config import Settings
from scripts.local_services import Service, start_redis
from storage.database import Database
from tests.conftest import serve
from tests.faults.scenario import session_events
from tests.faults.workers import start_worker, stop_workers
from tests.ingest_helpers import send_recording
from tests.world_fixtures import new_site

OUTAGE_S = 10


def _output(log: Path) -> str:
    return log.read_text(errors="replace")


async def _record(settings: Settings, session_id: str) -> None:
    """One session sent through the API, which queues its processing."""
    async with serve(settings) as client:
        site = await new_site(client, f"owner-{session_id}@example.com")
        await send_recording(
            client, site.tracking_key, session_events(0), batch_size=20, session_id=session_id
        )


async def _processed(
    db: Database, session_id: str, worker: subprocess.Popen[bytes], log: Path
) -> None:
    """Wait until the worker has processed every chunk of the session."""
    chunks = db["recording_chunks"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and worker.poll() is None:
        waiting = await chunks.count_documents({"session_id": session_id, "processed": False})
        if waiting == 0 and await chunks.count_documents({"session_id": session_id}):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{session_id} was never processed; worker log:\n{_output(log)}")


async def test_the_same_worker_process_resumes_after_redis_comes_back(
    settings: Settings, db: Database, own_redis: Service, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"REDIS_URL": own_redis.url})
    log = tmp_path / "worker.log"
    worker = start_worker(settings, log=log)
    restarted: Service | None = None
    try:
        await _record(settings, "session-before")
        await _processed(db, "session-before", worker, log)

        own_redis.stop()
        await asyncio.sleep(OUTAGE_S)
        assert worker.poll() is None, f"the worker exited:\n{_output(log)}"
        restarted = start_redis(tmp_path / "redis", own_redis.port)

        await _record(settings, "session-after")
        await _processed(db, "session-after", worker, log)
        assert worker.poll() is None, "the same process did the work"
        assert "worker.redis_lost" in _output(log)
    finally:
        await stop_workers([worker])
        if restarted is not None:
            restarted.stop()
    assert worker.returncode == 0, _output(log)
