"""The project's interface for enqueuing background jobs.

Nothing outside `workers/` imports arq: the API and the resolvers hand work to
a `JobQueue`. Job names are the members of `Job`.
"""

from datetime import timedelta
from enum import StrEnum
from typing import Any

from arq.connections import ArqRedis
from redis.asyncio import Redis

from workers import serialization


class Job(StrEnum):
    HEARTBEAT = "heartbeat"
    RUN_PRIVACY_REQUEST = "run_privacy_request"
    PROCESS_SESSION = "process_session"
    COMPACT_SESSION = "compact_session"
    RECOMPUTE_SIGNALS = "recompute_signals"
    RECOMPUTE_SESSION = "recompute_session"


class JobQueue:
    """Enqueues jobs on one named arq queue."""

    def __init__(self, redis: Redis, queue_name: str) -> None:
        self._arq = ArqRedis(
            connection_pool=redis.connection_pool,
            job_serializer=serialization.serialize,
            job_deserializer=serialization.deserialize,
            default_queue_name=queue_name,
        )
        self.queue_name = queue_name

    async def enqueue(
        self,
        job: Job,
        *args: Any,
        job_id: str | None = None,
        defer_by: timedelta | None = None,
    ) -> bool:
        """Queue `job`; False when a job with the same `job_id` is already known.

        Raises `redis.exceptions.RedisError` when Redis cannot be reached.
        """
        queued = await self._arq.enqueue_job(
            job.value, *args, _job_id=job_id, _defer_by=defer_by, _queue_name=self.queue_name
        )
        return queued is not None

    async def enqueue_processing(self, site_id: str, session_id: str, *, delay_s: float) -> bool:
        """Ask for a session's new chunks to be processed; a burst of batches makes one job."""
        return await self.enqueue(
            Job.PROCESS_SESSION,
            site_id,
            session_id,
            job_id=f"process:{site_id}:{session_id}",
            defer_by=timedelta(seconds=delay_s),
        )

    async def enqueue_compaction(self, site_id: str, session_id: str) -> bool:
        """Ask for a quiet session's chunks to be compacted; once per session at a time."""
        return await self.enqueue(
            Job.COMPACT_SESSION, site_id, session_id, job_id=f"compact:{site_id}:{session_id}"
        )

    async def enqueue_privacy_request(self, request_id: str) -> bool:
        """Ask for a privacy request to run; once, however many times it is asked."""
        return await self.enqueue(
            Job.RUN_PRIVACY_REQUEST, request_id, job_id=f"privacy:{request_id}"
        )

    async def queued_count(self) -> int:
        return int(await self._arq.zcard(self.queue_name))
