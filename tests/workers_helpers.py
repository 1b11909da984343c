"""Run an arq worker in-process, in burst mode, against the real Redis."""

from collections.abc import Sequence
from typing import Any

from arq.worker import Worker

from core.config import Settings
from storage.database import CommandListener
from workers.settings import worker_settings

MAX_BURSTS = 5


async def run_worker_burst(
    settings: Settings, *, listeners: Sequence[CommandListener] = (), **overrides: Any
) -> Worker:
    """Run queued jobs until the queue is empty, then stop the worker; `listeners` see
    every database command it sends.

    A burst ends once the queue is empty and its last jobs have ended, and a job's end can
    queue another (the follow-up run of `recording_jobs.follow_up`): then another burst
    runs it, as a running worker would. The last burst's worker is returned.
    """
    options = {**worker_settings(settings, listeners=listeners), **overrides}
    for _ in range(MAX_BURSTS):
        worker = Worker(**options, burst=True, poll_delay=0.05, handle_signals=False)
        try:
            await worker.main()
            left = await worker.pool.zcard(worker.queue_name)
        finally:
            await worker.close()
        if not left:
            return worker
    raise AssertionError(f"jobs still queued after {MAX_BURSTS} bursts")
