import asyncio
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from core.config import Settings
from storage import recordings
from storage.database import Database
from tests.ingest_helpers import batch_body, post_batch, shop_events
from tests.recording_helpers import counts, replay, run_job, session_node, shop_session
from workers import compaction
from workers.queue import Job


async def _compact(db: Database, site_id: str, **kwargs: Any) -> compaction.CompactionReport:
    return await compaction.compact_session(db, site_id, "session-0001", **kwargs)


async def test_replay_after_compaction_is_identical(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    site = await shop_session(client)
    before = await replay(client, site.token, site.id)
    assert (await counts(db))["recording_chunks"] == 8

    await run_job(settings, redis, Job.COMPACT_SESSION, site.id, "session-0001")

    assert await replay(client, site.token, site.id) == before
    stored = await counts(db)
    assert stored["recording_chunks"] == 0
    assert stored["recording_parts"] == 1
    part = await db["recording_parts"].find_one({})
    assert part is not None
    assert part["verified"] is True
    assert part["seqs"] == list(range(8))
    assert part["event_count"] == len(before)
    session = await db["sessions"].find_one({})
    assert session is not None
    assert session["needs_compaction"] is False


async def test_parts_stay_under_the_size_bound(
    client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = await shop_session(client, batch_size=5)
    before = await replay(client, site.token, site.id)
    report = await _compact(db, site.id, limits=compaction.CompactionLimits(part_bytes=2000))
    assert report.parts_written > 1
    async for part in db["recording_parts"].find({}):
        assert part["size"] < 2000 + 16_000  # the bound plus at most one chunk
    assert await replay(client, site.token, site.id) == before


@pytest.mark.parametrize("failing_step", ["mark_verified", "delete_chunks"])
async def test_a_crash_at_any_step_loses_and_duplicates_nothing(
    client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch, failing_step: str
) -> None:
    site = await shop_session(client)
    before = await replay(client, site.token, site.id)

    async def crash(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError(f"worker died during {failing_step}")

    target = compaction.parts if failing_step == "mark_verified" else compaction.recordings
    with monkeypatch.context() as patch:
        patch.setattr(target, failing_step, crash)
        with pytest.raises(ConnectionError):
            await _compact(db, site.id)
    assert await replay(client, site.token, site.id) == before
    assert (await counts(db))["recording_parts"] == 1

    report = await _compact(db, site.id)
    assert report.status == "done"
    assert await replay(client, site.token, site.id) == before
    stored = await counts(db)
    assert stored["recording_chunks"] == 0
    assert stored["recording_parts"] == 1


async def test_a_corrupt_unverified_part_is_rebuilt(
    client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = await shop_session(client)
    before = await replay(client, site.token, site.id)

    async def crash(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("worker died")

    with monkeypatch.context() as patch:
        patch.setattr(compaction.parts, "mark_verified", crash)
        with pytest.raises(ConnectionError):
            await _compact(db, site.id)
    await db["recording_parts"].update_one({}, {"$set": {"data": b"\x28\xb5\x2f\xfd garbage"}})
    assert await replay(client, site.token, site.id) == before

    await _compact(db, site.id)
    assert await replay(client, site.token, site.id) == before
    assert (await counts(db))["recording_chunks"] == 0


async def test_two_workers_compacting_one_session_make_one_set_of_parts(
    client: httpx.AsyncClient, db: Database
) -> None:
    site = await shop_session(client)
    before = await replay(client, site.token, site.id)
    reports = await asyncio.gather(*(_compact(db, site.id) for _ in range(4)))
    assert sum(r.parts_written for r in reports) == 1
    assert {r.status for r in reports} <= {"done", "busy"}
    assert await replay(client, site.token, site.id) == before
    assert (await counts(db))["recording_parts"] == 1


async def test_a_late_chunk_is_kept_and_compacted_later(
    client: httpx.AsyncClient, db: Database
) -> None:
    site = await shop_session(client)
    await _compact(db, site.id)
    late = shop_events()[-3:]
    late = [{**e, "timestamp": e["timestamp"] + 60_000} for e in late]
    response = await post_batch(client, batch_body(site.tracking_key, late, seq=8))
    assert response.status_code == 200
    with_late = await replay(client, site.token, site.id)
    assert with_late[-3:] == late
    assert (await counts(db))["recording_chunks"] == 1

    await _compact(db, site.id)
    assert await replay(client, site.token, site.id) == with_late
    assert await counts(db) == {**await counts(db), "recording_chunks": 0, "recording_parts": 2}


async def test_only_processed_chunks_are_compacted_while_live(
    client: httpx.AsyncClient, db: Database
) -> None:
    site = await shop_session(client)
    seqs = [c["seq"] for c in await recordings.session_chunks(db, site.id, "session-0001")]
    await recordings.mark_processed(db, site.id, "session-0001", seqs[:5])
    report = await _compact(db, site.id, only_processed=True)
    assert report.chunks_removed == 5
    assert (await counts(db))["recording_chunks"] == 3
    node = await session_node(client, site.token, site.id)
    assert node["replayable"] is True
