"""arq worker settings, built from Sightline's configuration."""

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from arq import cron, func
from arq.connections import RedisSettings

from core.config import Settings
from core.logs import get_logger
from storage.crash_points import crash_point
from storage.database import CommandListener, StorageLimits, close_client, database_of
from storage.engine import engine_of, open_client
from storage.indexes import ensure_indexes
from workers import jobs, recording_jobs, serialization
from workers.queue import Job, JobQueue

log = get_logger(__name__)

HEALTH_CHECK_INTERVAL_S = 30


def worker_settings(
    settings: Settings, *, listeners: Sequence[CommandListener] = ()
) -> dict[str, Any]:
    """The keyword arguments of `arq.Worker` for this configuration; `listeners` watch the
    database commands (tests only)."""

    async def on_startup(ctx: dict[str, Any]) -> None:
        client = await open_client(
            settings.mongodb_url,
            app_name="sightline-worker",
            setting=settings.SIGHTLINE_STORAGE_ENGINE,
            listeners=listeners,
            limits=StorageLimits.of(settings),
        )
        ctx["mongo"] = client
        ctx["db"] = database_of(client, settings.MONGODB_DATABASE)
        ctx["settings"] = settings
        ctx["queue"] = JobQueue(ctx["redis"], settings.SIGHTLINE_QUEUE_NAME)
        await ensure_indexes(ctx["db"])
        log.info(
            "worker.started",
            queue=settings.SIGHTLINE_QUEUE_NAME,
            storage_engine=engine_of(ctx["db"]).value,
        )
        crash_point("worker.started")

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        client = ctx.get("mongo")
        if client is not None:
            await close_client(client)

    return {
        "functions": [
            func(jobs.heartbeat, name=Job.HEARTBEAT.value, timeout=30, max_tries=3),
            func(jobs.run_privacy_request, name=Job.RUN_PRIVACY_REQUEST.value),
            # keep_result=0: the job id is free again as soon as the job ends, so the
            # next batch of the session can queue the next run.
            func(recording_jobs.process_session, name=Job.PROCESS_SESSION.value, keep_result=0),
            func(recording_jobs.compact_session, name=Job.COMPACT_SESSION.value, keep_result=0),
            func(recording_jobs.recompute_signals, name=Job.RECOMPUTE_SIGNALS.value),
            func(recording_jobs.recompute_session, name=Job.RECOMPUTE_SESSION.value),
        ],
        "cron_jobs": [
            cron(jobs.heartbeat, name="cron:heartbeat", second={0}, timeout=30),
            cron(jobs.sweep_privacy_requests, name="cron:sweep-privacy", second={30}, timeout=60),
            cron(
                jobs.schedule_retention, name="cron:retention", hour={3}, minute={17}, timeout=300
            ),
            cron(
                recording_jobs.sweep_recordings,
                name="cron:sweep-recordings",
                second={15},
                timeout=120,
            ),
        ],
        "on_startup": on_startup,
        "after_job_end": recording_jobs.follow_up,
        "on_shutdown": on_shutdown,
        # No retries of arq's own when connecting: workers.supervisor retries, with backoff.
        "redis_settings": replace(RedisSettings.from_dsn(settings.redis_url), conn_retries=0),
        "queue_name": settings.SIGHTLINE_QUEUE_NAME,
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
        "job_serializer": serialization.serialize,
        "job_deserializer": serialization.deserialize,
        "max_jobs": settings.SIGHTLINE_WORKER_MAX_JOBS,
        # Tight: after a SIGKILL, arq re-runs a job only once the longest timeout passed.
        "job_timeout": 300,
        "keep_result": 3600,
    }
