"""Recording jobs meet a storage error: arq runs them again in seconds (real FerretDB)."""

import pytest
from arq import Retry

from core.config import Settings
from scripts.local_services import Service
from storage.database import Database, create_client
from workers import recording_jobs
from workers.leases import session_lease


@pytest.mark.parametrize("job", [recording_jobs.process_session, recording_jobs.compact_session])
async def test_a_job_meeting_a_storage_error_is_retried_soon(
    settings: Settings, own_mongodb: Service, job: object
) -> None:
    # Before, the job failed for good and its session waited for the next sweep (up to a
    # minute, more when the sweep's own job met the error too).
    client = create_client(own_mongodb.url, app_name="sightline-tests")
    ctx = {"db": client["jobs"], "settings": settings, "job_try": 2}
    own_mongodb.stop()
    try:
        with pytest.raises(Retry) as retried:
            await job(ctx, "site-1", "session-0001")  # type: ignore[operator]
    finally:
        await client.close()
    assert retried.value.defer_score == 2 * recording_jobs.BUSY_RETRY_S * 1000


@pytest.mark.parametrize("job", [recording_jobs.process_session, recording_jobs.compact_session])
async def test_the_last_try_of_a_busy_job_ends_and_leaves_it_to_the_sweep(
    settings: Settings, db: Database, job: object
) -> None:
    # Another worker holds the session. Raising Retry on arq's last try would make arq
    # record the job as failed under its id for an hour and refuse to queue that id again,
    # so neither the next batch nor the sweep could queue the session's processing.
    await db["sessions"].insert_one(
        {"_id": "site-1:session-0001", "site_id": "site-1", "session_id": "session-0001"}
    )
    async with session_lease(db, "site-1", "session-0001") as held:
        assert held is not None
        with pytest.raises(Retry):
            await job({"db": db, "settings": settings, "job_try": 1}, "site-1", "session-0001")  # type: ignore[operator]
        last = {"db": db, "settings": settings, "job_try": recording_jobs.MAX_TRIES}
        assert await job(last, "site-1", "session-0001") == "left to the next sweep"  # type: ignore[operator]
