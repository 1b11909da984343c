"""Retention forgets the hours whose sessions it erased, and never one a session still needs.

After a retention run, the site's markers must be exactly the hours (with their days and
32-day spans) that its remaining sessions start in, so a list in ascending order does not
walk months of emptied hours; another site's markers are untouched. A session written
into an old hour while it is being pruned keeps its markers, in both orders the two
writers can meet.
"""

import random
from datetime import UTC, datetime, timedelta

import pytest

from core.config import Settings
from core.epoch import epoch_ms
from storage import privacy_requests, session_buckets, sessions
from storage.database import Database
from workers import privacy

SITE, OTHER_SITE = "6b0b91e55d5cf409b79cc124", "6b0b91e55d5cf409b79cc125"
HOUR = session_buckets.HOUR_MS
NOW_MS = epoch_ms(datetime.now(UTC))
# A 32-day span starts here, 40 to 72 days ago: the sessions cross hour, day and span edges.
SPAN_EDGE = (NOW_MS - 40 * 24 * HOUR) - (NOW_MS - 40 * 24 * HOUR) % (32 * 24 * HOUR)


async def _write(db: Database, site_id: str, name: str, first_ms: int) -> None:
    summary = sessions.BatchSummary(
        site_id, name, "v", 0, first_ms, first_ms + 60_000, 10, [], [], None, {}, {}
    )
    await sessions.record_batch(db, summary, None)


def _closure(site_id: str, hours: set[int]) -> set[str]:
    """The marker ids the walk needs for `hours`: each hour with its day and span."""
    return {m["_id"] for h in hours for m in session_buckets.markers_of(site_id, h)}


async def _marker_ids(db: Database, site_id: str) -> set[str]:
    docs = await db[session_buckets.COLLECTION].find({"site_id": site_id}).to_list(None)
    return {doc["_id"] for doc in docs}


async def _start_hours(db: Database, site_id: str) -> set[int]:
    docs = await db["sessions"].find({"site_id": site_id}).to_list(None)
    return {doc[session_buckets.FIELD] for doc in docs}


async def _run_retention(db: Database, settings: Settings, cutoff: datetime) -> None:
    request = await privacy_requests.create_request(
        db, kind="retention", subject_hash="", requested_by="test", site_id=SITE,
        parameters={"cutoff": cutoff.isoformat()},
    )  # fmt: skip
    assert await privacy.run_privacy_request(db, settings.secret_key, request["_id"]) == "done"


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_retention_leaves_exactly_the_hours_of_the_remaining_sessions(
    db: Database, settings: Settings, seed: int
) -> None:
    rng = random.Random(seed)
    cutoff = datetime.now(UTC) - timedelta(days=2)
    for n in range(80):
        start = SPAN_EDGE + rng.randrange(-60, 60) * HOUR + rng.choice((-1, 0, 1, 1_800_000))
        await _write(db, SITE, f"s{n}", start)
        await _write(db, OTHER_SITE, f"s{n}", start)
    await _write(db, SITE, "recent", NOW_MS - HOUR)
    expired = [f"{SITE}:s{n}" for n in range(80) if rng.random() < 0.7]
    for session_key in expired:  # received before the cutoff, by the server's clock
        old = {"last_chunk_at": cutoff - timedelta(days=1)}
        await db["sessions"].update_one({"_id": session_key}, {"$set": old})
    other_markers = await _marker_ids(db, OTHER_SITE)

    await _run_retention(db, settings, cutoff)

    remaining = await _start_hours(db, SITE)
    assert len(remaining) < len(await _start_hours(db, OTHER_SITE))  # sessions did go
    assert await _marker_ids(db, SITE) == _closure(SITE, remaining)
    assert await _marker_ids(db, OTHER_SITE) == other_markers
    walked = session_buckets.walk(db, SITE, newest=None, oldest=None, descending=False)
    assert [hour async for hour in walked] == sorted(remaining)


async def test_an_old_hour_written_while_it_is_pruned_keeps_its_markers(db: Database) -> None:
    hour = SPAN_EDGE  # the first hour of a day and of a span: three markers
    before = NOW_MS

    # The writer marks, the pruner removes the empty hour, then the session is written.
    await session_buckets.mark(db, SITE, hour)
    assert await session_buckets.prune(db, SITE, before, NOW_MS) == 3
    await db["sessions"].insert_one({"_id": f"{SITE}:late", "site_id": SITE,
                                     session_buckets.FIELD: hour})  # fmt: skip
    await session_buckets.confirm(db, SITE, hour, NOW_MS)
    assert await _marker_ids(db, SITE) == _closure(SITE, {hour})

    # The session is written first: pruning finds it and removes nothing.
    assert await session_buckets.prune(db, SITE, before, NOW_MS) == 0
    assert await _marker_ids(db, SITE) == _closure(SITE, {hour})


async def test_ingestion_puts_back_markers_pruned_before_its_session_was_written(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if a prune ran between the writer's `mark` and its session write: nothing is marked.
    async def pruned_meanwhile(db: Database, site_id: str, bucket: int) -> None:
        return None

    monkeypatch.setattr(session_buckets, "mark", pruned_meanwhile)
    await _write(db, SITE, "late", SPAN_EDGE + 5 * HOUR)
    await _write(db, SITE, "recent", NOW_MS - HOUR)  # pruning never reaches the last day
    assert await _marker_ids(db, SITE) == _closure(SITE, {SPAN_EDGE + 5 * HOUR})


async def test_pruning_never_touches_the_last_day(db: Database) -> None:
    hour = session_buckets.bucket_of(NOW_MS - 3 * HOUR)
    await session_buckets.mark(db, SITE, hour)  # its session is still being written
    assert await session_buckets.prune(db, SITE, NOW_MS + HOUR, NOW_MS) == 0
    assert await _marker_ids(db, SITE) == _closure(SITE, {hour})


async def test_every_hour_a_prune_can_remove_is_one_its_writer_confirms(db: Database) -> None:
    # Around the newest hour pruning may touch: each hour that a prune removes while its
    # session is being written gets its markers back from the writer's `confirm`.
    settled = session_buckets.bucket_of(NOW_MS - session_buckets.SETTLED_MS)
    hours = [settled + k * HOUR for k in range(-3, 4)]
    for hour in hours:
        await session_buckets.mark(db, SITE, hour)
    await session_buckets.prune(db, SITE, NOW_MS + HOUR, NOW_MS)
    pruned = [h for h in hours if not _closure(SITE, {h}) <= await _marker_ids(db, SITE)]
    assert pruned  # the walk reached the edge
    for hour in pruned:
        await db["sessions"].insert_one(
            {"_id": f"{SITE}:s{hour}", "site_id": SITE, session_buckets.FIELD: hour}
        )
        await session_buckets.confirm(db, SITE, hour, NOW_MS)
    assert await _marker_ids(db, SITE) == _closure(SITE, set(hours))
