"""Jobs over recordings: extraction, compaction, the outbox sweep, signal recomputation."""

from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from arq import Retry
from redis.exceptions import RedisError

from core.config import Settings
from core.epoch import from_epoch_ms
from core.logs import get_logger
from storage import recordings, session_search, sessions
from storage.crash_points import crash_point
from storage.database import Database
from storage.errors import STORAGE_ERRORS
from workers import compaction, processing
from workers.leases import session_lease
from workers.queue import Job, JobQueue

log = get_logger(__name__)

OUTBOX_GRACE = timedelta(seconds=30)
# Set on a processing job's context when it ends normally: the session `follow_up` checks.
FOLLOW_UP = "sightline_follow_up"
FOLLOW_UP_ERRORS: tuple[type[Exception], ...] = (*STORAGE_ERRORS, RedisError)


BUSY_RETRY_S = 5


# arq's default max_tries. A job that exhausts it is recorded as failed under its job id
# for as long as the worker keeps results (an hour), and arq refuses to queue that id again
# meanwhile: the session's next batches and the sweep could not queue its processing or
# compaction. So the last try ends normally and leaves the session to the next sweep.
MAX_TRIES = 5


async def _with_retries(ctx: dict[str, Any], work: Coroutine[Any, Any, str]) -> str:
    """Run `work`; on a busy lease or a storage error, run the job again soon (processing
    and compaction are idempotent and safe to interrupt), until the last try."""
    attempt = int(ctx.get("job_try") or 1)
    try:
        return await work
    except STORAGE_ERRORS as exc:
        log.warning("job.storage_error", error=type(exc).__name__, attempt=attempt)
        retry = Retry(defer=BUSY_RETRY_S * attempt)
    except Retry as exc:
        retry = exc
    if attempt >= MAX_TRIES:
        log.warning("job.left_to_sweep", attempt=attempt)
        return "left to the next sweep"
    raise retry


async def process_session(ctx: dict[str, Any], site_id: str, session_id: str) -> str:
    return await _with_retries(ctx, _process(ctx, site_id, session_id))


async def follow_up(ctx: dict[str, Any]) -> None:
    """After a processing job has ended: queue the session's next run when a batch came in
    while this one ran, since the API could not queue it then (arq refuses a job id it still
    knows, and it knows the job's id until the job has ended). Run once arq has forgotten the
    id, so a batch stored after this check queues its own run; without it such a batch
    waited for the outbox sweep, a minute and more."""
    session = ctx.pop(FOLLOW_UP, None)
    if session is None:
        return
    settings: Settings = ctx["settings"]
    try:
        if await recordings.has_unprocessed(ctx["db"], *session):
            await ctx["queue"].enqueue_processing(
                *session, delay_s=settings.SIGHTLINE_PROCESS_DELAY_S
            )
    except FOLLOW_UP_ERRORS as exc:  # the outbox sweep finds the batch later
        log.warning("job.follow_up_failed", error=type(exc).__name__)


async def _process(ctx: dict[str, Any], site_id: str, session_id: str) -> str:
    db: Database = ctx["db"]
    settings: Settings = ctx["settings"]
    limits = _limits(settings)
    async with session_lease(db, site_id, session_id, limits.lease) as lease:
        if lease is None:
            raise Retry(defer=BUSY_RETRY_S)
        report = await processing.process_session(db, site_id, session_id, lease=lease)
        if report.status == "gone":
            return await _drop_orphan_chunks(db, site_id, session_id)
        ctx[FOLLOW_UP] = (site_id, session_id)
        if report.raw_chunks >= settings.SIGHTLINE_COMPACT_MAX_CHUNKS:
            await compaction.compact_session(
                db, site_id, session_id, only_processed=True, limits=limits, lease=lease
            )
    return f"{report.status}: {report.events_written} new events"


async def _drop_orphan_chunks(db: Database, site_id: str, session_id: str) -> str:
    """A session whose document is missing has chunks no API or job can reach, which the
    outbox sweep would queue every minute forever: drop those past the outbox grace."""
    if await sessions.find_session(db, site_id, session_id) is not None:
        return "gone"  # the site is being deleted; its deletion removes the chunks
    dropped = await recordings.delete_orphan_chunks(
        db, site_id, session_id, received_before=datetime.now(UTC) - OUTBOX_GRACE
    )
    if dropped:
        log.warning("recordings.orphan_chunks_dropped", site=site_id, chunks=dropped)
    return f"gone: {dropped} orphan chunks dropped"


async def compact_session(ctx: dict[str, Any], site_id: str, session_id: str) -> str:
    """A quiet session: final extraction, then compaction of everything."""
    limits = _limits(ctx["settings"])
    return await _with_retries(ctx, _compact(ctx["db"], site_id, session_id, limits))


async def _compact(
    db: Database, site_id: str, session_id: str, limits: compaction.CompactionLimits
) -> str:
    seen = await sessions.find_session(db, site_id, session_id)
    if seen is None:
        return "gone"
    async with session_lease(db, site_id, session_id, limits.lease) as lease:
        if lease is None:
            raise Retry(defer=BUSY_RETRY_S)
        await processing.process_session(db, site_id, session_id, final=True, lease=lease)
        report = await compaction.compact_session(
            db, site_id, session_id, limits=limits, lease=lease
        )
    if report.status == "done":
        await sessions.mark_compacted(db, seen)
    return f"{report.status}: {report.parts_written} parts, {report.chunks_removed} chunks removed"


async def sweep_recordings(ctx: dict[str, Any]) -> str:
    """Queue work the API could not queue (Redis down) and compaction of quiet sessions."""
    db: Database = ctx["db"]
    settings: Settings = ctx["settings"]
    queue: JobQueue = ctx["queue"]
    now = datetime.now(UTC)
    waiting = await recordings.unprocessed_sessions(db, received_before=now - OUTBOX_GRACE)
    for site_id, session_id in waiting:
        await queue.enqueue_processing(site_id, session_id, delay_s=0)
    quiet = await sessions.quiet_sessions(
        db, quiet_since=now - timedelta(seconds=settings.SIGHTLINE_COMPACT_QUIET_S)
    )
    for session in quiet:
        await queue.enqueue_compaction(session["site_id"], session["session_id"])
    return f"{len(waiting)} sessions to process, {len(quiet)} to compact"


async def recompute_signals(
    ctx: dict[str, Any], site_id: str, started_after_ms: int | None, started_before_ms: int | None
) -> str:
    """Queue a recomputation of every session of a site in a time range, one job each."""
    db: Database = ctx["db"]
    queue: JobQueue = ctx["queue"]
    filters = session_search.SessionFilter(
        started_after=_when(started_after_ms), started_before=_when(started_before_ms)
    )
    queued = 0
    after = None
    while True:
        page = await session_search.search_sessions(db, site_id, filters, after=after, limit=100)
        for session in page:
            await queue.enqueue(Job.RECOMPUTE_SESSION, site_id, session["session_id"])
            crash_point("recompute.session_queued")
            queued += 1
        if len(page) < 100:
            return f"{queued} sessions queued"
        after = session_search.position_of(page[-1], session_search.SortKey.STARTED_AT)


async def recompute_session(ctx: dict[str, Any], site_id: str, session_id: str) -> str:
    report = await processing.recompute_signals(ctx["db"], site_id, session_id)
    if report.status == "busy":
        raise Retry(defer=BUSY_RETRY_S)
    return f"{report.status}: {report.events_written} events"


def _when(ms: int | None) -> datetime | None:
    return from_epoch_ms(ms) if ms is not None else None


def _limits(settings: Settings) -> compaction.CompactionLimits:
    return compaction.CompactionLimits(
        part_bytes=settings.SIGHTLINE_COMPACT_PART_BYTES,
        lease=timedelta(seconds=settings.SIGHTLINE_COMPACT_LEASE_S),
    )
