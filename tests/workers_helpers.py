"""Run an arq worker in-process, in burst mode, against the real Redis."""

from collections.abc import Sequence
from typing import Any

from arq.worker import Worker

from core.config import Settings
from storage.database import CommandListener
from workers.settings import worker_settings


async def run_worker_burst(
    settings: Settings, *, listeners: Sequence[CommandListener] = (), **overrides: Any
) -> Worker:
    """Run queued jobs until the queue is empty, then stop the worker; `listeners` see
    every database command it sends."""
    options = {**worker_settings(settings, listeners=listeners), **overrides}
    worker = Worker(**options, burst=True, poll_delay=0.05, handle_signals=False)
    try:
        await worker.main()
    finally:
        await worker.close()
    return worker
