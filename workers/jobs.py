"""Job functions: each wires plain logic to storage and nothing more."""

import os
import socket
from datetime import timedelta
from typing import Any

from core.logs import get_logger
from storage import heartbeats, privacy_requests
from workers import privacy
from workers.queue import JobQueue

log = get_logger(__name__)

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"
SWEEP_AFTER = timedelta(minutes=2)


async def heartbeat(ctx: dict[str, Any]) -> str:
    """Record that this worker is alive and reaches MongoDB."""
    at = await heartbeats.record_heartbeat(ctx["db"], worker=WORKER_NAME)
    log.info("worker.heartbeat", worker=WORKER_NAME)
    return at.isoformat()


async def run_privacy_request(ctx: dict[str, Any], request_id: str) -> str:
    return await privacy.run_privacy_request(ctx["db"], ctx["settings"].secret_key, request_id)


async def sweep_privacy_requests(ctx: dict[str, Any]) -> int:
    """Queue requests that never reached a worker (Redis was down when they were made)."""
    queue: JobQueue = ctx["queue"]
    stale = await privacy_requests.stale_pending_ids(ctx["db"], older_than=SWEEP_AFTER)
    for request_id in stale:
        await queue.enqueue_privacy_request(request_id)
    return len(stale)


async def schedule_retention(ctx: dict[str, Any]) -> int:
    """Daily: a retention request for every site, each run as its own job."""
    return await privacy.schedule_retention(ctx["db"], ctx["queue"])
