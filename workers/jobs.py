"""Job functions: each wires plain logic to storage and nothing more."""

import os
import socket
from typing import Any

from core.logs import get_logger
from storage import heartbeats

log = get_logger(__name__)

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"


async def heartbeat(ctx: dict[str, Any]) -> str:
    """Record that this worker is alive and reaches MongoDB."""
    at = await heartbeats.record_heartbeat(ctx["db"], worker=WORKER_NAME)
    log.info("worker.heartbeat", worker=WORKER_NAME)
    return at.isoformat()
