"""A worker SIGKILLed in the middle of each kind of job, then restarted, ends with
exactly what a run that was never interrupted gives."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from core.config import Settings
from storage import privacy_requests
from storage.database import Client, Database
from tests.faults import state
from tests.faults.scenario import START_MS, enqueue_all, queue_of, recorded_site, twin
from tests.faults.workers import forget_dead_worker, run_until_crash
from tests.workers_helpers import run_worker_burst
from workers.queue import Job

S1, S2 = "session-0001", "session-0002"
WHOLE_RANGE = {
    "from": datetime.fromtimestamp(START_MS / 1000 - 3600, UTC).isoformat(),
    "to": datetime.fromtimestamp(START_MS / 1000 + 3600, UTC).isoformat(),
}


@dataclass(frozen=True)
class Case:
    crash_at: str
    job: Job
    prepare: list[Job] = field(default_factory=list)  # per session, before the twin is made
    privacy: tuple[str, dict[str, Any]] | None = None
    then: list[Job] = field(default_factory=list)  # per session, after the job, on both sides


CASES = {
    "process: events written, chunks not yet marked": Case(
        "extraction.events_written", Job.PROCESS_SESSION, then=[Job.COMPACT_SESSION]
    ),
    "process: heatmap counters added, events not yet marked": Case(
        "heatmaps.counted", Job.PROCESS_SESSION, then=[Job.COMPACT_SESSION]
    ),
    "compact: rolled-up events deleted to be rewritten, not yet inserted": Case(
        "events.deleted_for_rewrite", Job.COMPACT_SESSION, prepare=[Job.PROCESS_SESSION]
    ),
    "compact: a part verified, its chunks not yet deleted": Case(
        "compaction.part_verified", Job.COMPACT_SESSION, prepare=[Job.PROCESS_SESSION]
    ),
    "compact: final scroll counters added, not yet marked": Case(
        "heatmaps.counted", Job.COMPACT_SESSION, prepare=[Job.PROCESS_SESSION]
    ),
    "erase visitor: a batch deleted, not yet counted": Case(
        "erasure.batch_deleted",
        Job.RUN_PRIVACY_REQUEST,
        prepare=[Job.PROCESS_SESSION],
        privacy=("erase_visitor", {"visitor_id": "visitor-0001"}),
    ),
    "erase recordings: a batch deleted, not yet counted": Case(
        "erasure.batch_deleted",
        Job.RUN_PRIVACY_REQUEST,
        prepare=[Job.COMPACT_SESSION],
        privacy=("erase_recordings", WHOLE_RANGE),
    ),
    "delete site: a batch deleted, not yet counted": Case(
        "erasure.batch_deleted",
        Job.RUN_PRIVACY_REQUEST,
        prepare=[Job.PROCESS_SESSION],
        privacy=("delete_site", {}),
    ),
    "export visitor: the export stored, the request not yet done": Case(
        "export.slice_stored",
        Job.RUN_PRIVACY_REQUEST,
        prepare=[Job.COMPACT_SESSION],
        privacy=("export_visitor", {"visitor_id": "visitor-0002"}),
    ),
    "scan with redaction: one piece rewritten": Case(
        "pii_scan.piece_redacted",
        Job.RUN_PRIVACY_REQUEST,
        prepare=[Job.PROCESS_SESSION],
        privacy=("scan_recordings", {**WHOLE_RANGE, "redact": True}),
    ),
    "recompute signals: one session queued": Case(
        "recompute.session_queued", Job.RECOMPUTE_SIGNALS, prepare=[Job.COMPACT_SESSION]
    ),
    "recompute session: signals deleted, not yet derived again": Case(
        "recompute.signals_deleted", Job.RECOMPUTE_SESSION, prepare=[Job.PROCESS_SESSION]
    ),
}


Jobs = list[tuple[Job, tuple[Any, ...]]]


def _job_args(case: Case, site_id: str, request_id: str | None) -> Jobs:
    if case.job is Job.RUN_PRIVACY_REQUEST:
        return [(case.job, (request_id,))]
    if case.job is Job.RECOMPUTE_SIGNALS:
        return [(case.job, (site_id, None, None))]
    return [(case.job, (site_id, session)) for session in (S1, S2)]


def _per_session(jobs: list[Job], site_id: str) -> Jobs:
    return [(job, (site_id, session)) for job in jobs for session in (S1, S2)]


async def _run(settings: Settings, redis: Redis, jobs: Jobs) -> None:
    await enqueue_all(queue_of(settings, redis), jobs)
    await run_worker_burst(settings)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_a_killed_job_rerun_ends_like_an_uninterrupted_run(
    case: Case,
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    redis: Redis,
    mongo_client: Client,
) -> None:
    settings = settings.model_copy(
        update={"SIGHTLINE_COMPACT_PART_BYTES": 1024, "SIGHTLINE_COMPACT_MAX_CHUNKS": 1000}
    )
    site = await recorded_site(client)
    await redis.flushdb()  # the ingest's own processing jobs: each case queues what it needs
    await _run(settings, redis, _per_session(case.prepare, site.id))
    request_id = None
    if case.privacy is not None:
        kind, parameters = case.privacy
        request = await privacy_requests.create_request(
            db, kind=kind, subject_hash="", requested_by="test", site_id=site.id,
            parameters=parameters,
        )  # fmt: skip
        request_id = request["_id"]
    jobs = _job_args(case, site.id, request_id)
    async with twin(settings, mongo_client, redis) as (reference, reference_db, _):
        await state.clone(db, reference_db)
        await _run(reference, redis, jobs)
        await _run(reference, redis, _per_session(case.then, site.id))

        await enqueue_all(queue_of(settings, redis), jobs)
        await run_until_crash(settings, case.crash_at)
        await forget_dead_worker(redis, db)
        await run_worker_burst(settings)
        await _run(settings, redis, _per_session(case.then, site.id))

        assert await state.snapshot(db) == await state.snapshot(reference_db)
        assert await state.seqs_by_session(db) == await state.seqs_by_session(reference_db)
