"""Recording jobs meet a storage error: arq runs them again in seconds (real FerretDB)."""

import pytest
from arq import Retry

from core.config import Settings
from scripts.local_services import Service
from storage.database import create_client
from workers import recording_jobs


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
