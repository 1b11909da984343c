"""Keeping a worker process alive across Redis outages.

arq's worker stops with the first Redis error (a restart of Redis, a network
blip), and with it the whole process. The supervisor runs the worker loop
again instead, after a capped exponential backoff, until Redis answers; the
same process then picks up jobs as before. Jobs running when Redis went away
are cancelled: every job is idempotent and safe to interrupt, and arq runs it
again once its in-progress mark expires (or the sweep queues its session).

SIGINT and SIGTERM stop the worker as arq itself would, outage or not.
"""

import asyncio
import contextlib
import signal
import time
from dataclasses import dataclass
from typing import Any

from arq.worker import Worker
from redis.exceptions import RedisError

from core.logs import get_logger

log = get_logger(__name__)

# What losing Redis looks like from arq: redis-py's errors, and the socket and
# timeout errors of a connection that could not be opened at all.
REDIS_LOST = (RedisError, OSError, asyncio.TimeoutError)


@dataclass(frozen=True)
class Backoff:
    first_s: float = 0.5
    most_s: float = 15.0

    def after(self, delay_s: float) -> float:
        return min(delay_s * 2, self.most_s)


class Supervisor:
    def __init__(self, options: dict[str, Any], backoff: Backoff = Backoff()) -> None:
        self._options = options
        self._backoff = backoff
        self._stop = asyncio.Event()
        self._worker: Worker | None = None

    def stop(self, signum: signal.Signals) -> None:
        """Stop for good: cancel the running worker's jobs and loop, or the wait."""
        self._stop.set()
        if self._worker is not None:
            self._worker.handle_sig(signum)

    async def run(self) -> None:
        """Run the worker until stopped, restarting it whenever Redis is lost."""
        delay = self._backoff.first_s
        while not self._stop.is_set():
            started = time.monotonic()
            error = await self._run_once()
            if error is None:
                return
            if time.monotonic() - started > self._backoff.most_s:
                delay = self._backoff.first_s  # it ran well for a while: a new outage
            log.warning("worker.redis_lost", error=repr(error), retry_in_s=delay)
            await self._pause(delay)
            delay = self._backoff.after(delay)

    async def _run_once(self) -> BaseException | None:
        """One run of arq's worker loop; the Redis error that ended it, if any."""
        worker = self._worker = Worker(**self._options, handle_signals=False)
        try:
            await worker.async_run()
        except REDIS_LOST as exc:
            await _abandon(worker, self._options.get("on_shutdown"))
            return exc
        except asyncio.CancelledError:
            if not self._stop.is_set():
                raise
        finally:
            self._worker = None
        await _close(worker, self._options.get("on_shutdown"))
        return None

    async def _pause(self, delay_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), delay_s)


async def _close(worker: Worker, on_shutdown: Any) -> None:
    """arq's own shutdown; if Redis is gone by then, the part that needs no Redis."""
    try:
        await worker.close()
    except REDIS_LOST:
        await _abandon(worker, on_shutdown)


async def _abandon(worker: Worker, on_shutdown: Any) -> None:
    """Shut a worker down without Redis: cancel its jobs, close what it opened."""
    tasks = [*worker.tasks.values(), *worker.job_tasks.values()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if on_shutdown is not None:
        await on_shutdown(worker.ctx)
    if worker._pool is not None:  # (arq offers no public way to drop a broken pool)
        await worker._pool.close(close_connection_pool=True)
        worker._pool = None


def run(options: dict[str, Any]) -> None:
    """`python -m workers run`: the supervised worker, stopped by SIGINT or SIGTERM."""

    async def main() -> None:
        supervisor = Supervisor(options)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, supervisor.stop, signum)
        await supervisor.run()

    asyncio.run(main())
