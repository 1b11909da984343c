"""Funnel event blocks in the database: what extraction writes, folding, reading, erasure.

Every check compares what `read_range` returns with the events that were derived, so a
lost, doubled or stale row shows up whatever step produced it.
"""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from core.event_columns import events_of
from storage import claims, event_block_backfill, event_blocks, migrate
from storage.database import Database
from storage.event_blocks import FOLDED, OPEN, fold_day, read_range, record_session
from storage.events import event_document, upsert_events
from tests.leftovers import mentions

SITE = "site-blocks"
DAY = datetime(2026, 6, 1, tzinfo=UTC)
RANGE = (DAY - timedelta(days=1), DAY + timedelta(days=3))


def _session(number: int, **facts: str) -> dict[str, Any]:
    return {"site_id": SITE, "session_id": f"s{number}", "visitor_id": f"v{number}", **facts}


def _events(session: dict[str, Any], *offsets_s: int, path: str = "/") -> list[dict[str, Any]]:
    base = {"site_id": SITE, "session_id": session["session_id"],
            "visitor_id": session["visitor_id"]}  # fmt: skip
    found = []
    for offset in offsets_s:
        ms = int((DAY + timedelta(seconds=offset)).timestamp() * 1000)
        key = f"page_view:{ms}:0"
        derived = {"key": key, "kind": "page_view", "url": "https://x.test" + path, "path": path}
        found.append(event_document({"_id": f"{SITE}:{session['session_id']}:{key}", **base},
                                    derived, ms))  # fmt: skip
    return found


def _stored(block: Any) -> set[tuple[str, datetime, str]]:
    sessions = [s.session_id for s in block.sessions]
    rows = events_of(block)
    owners = [sessions[int(i)] for i in block.columns.session]
    return {(owner, row["at"], row["path"]) for owner, row in zip(owners, rows, strict=True)}


def _expected(*event_lists: list[dict[str, Any]]) -> set[tuple[str, datetime, str]]:
    return {(e["session_id"], e["at"], e["path"]) for events in event_lists for e in events}


async def test_runs_merge_by_key_and_leave_one_open_block_per_day(db: Database) -> None:
    session = _session(1, device_type="mobile")
    first = _events(session, 10, 20)
    await record_session(db, session, first, final=False)
    again = _events(session, 20, path="/again") + _events(session, 30)
    await record_session(db, session, again, final=False)
    block = await read_range(db, SITE, *RANGE)
    assert _stored(block) == _expected(first[:1], again)
    assert block.sessions[0].facts == {"device_type": "mobile"}
    assert await db[OPEN].count_documents({"site_id": SITE}) == 1


async def test_a_session_over_midnight_has_a_block_per_day(db: Database) -> None:
    session = _session(2)
    events = _events(session, -60, 60)
    await record_session(db, session, events, final=True)
    assert await db[OPEN].count_documents({"site_id": SITE}) == 2
    assert _stored(await read_range(db, SITE, *RANGE)) == _expected(events)
    later_only = await read_range(db, SITE, DAY, DAY + timedelta(days=1))
    assert _stored(later_only) == _expected(events[1:])


async def test_folding_keeps_every_row_once_and_empties_the_open_blocks(db: Database) -> None:
    written = []
    for number in range(event_blocks.FOLD_AT + 8):
        session = _session(number)
        events = _events(session, number, number + 1)
        written.append(events)
        await record_session(db, session, events, final=number % 8 != 0)
    before = _stored(await read_range(db, SITE, *RANGE))
    assert before == _expected(*written)
    assert await db[FOLDED].count_documents({"site_id": SITE}) == 1
    # 21 finished sessions: the 16th folded the first 16; 5 finished and 3 open wait.
    assert await db[OPEN].count_documents({"site_id": SITE, "final": True}) == 5
    assert _stored(await read_range(db, SITE, *RANGE)) == before


async def test_an_interrupted_fold_is_read_once_and_cleaned_by_the_next(db: Database) -> None:
    sessions = [_session(n) for n in range(3)]
    written = [_events(s, 5) for s in sessions]
    for session, events in zip(sessions, written, strict=True):
        await record_session(db, session, events, final=False)
    open_docs = await db[OPEN].find({"site_id": SITE}).to_list(None)
    await db[OPEN].update_many({"site_id": SITE}, {"$set": {"final": True}})
    day = open_docs[0]["day"]
    assert await fold_day(db, SITE, day, wait=True, least=1) == 3
    # The state a crash between writing the part and deleting the open blocks leaves.
    await db[OPEN].insert_many([{**doc, "final": True} for doc in open_docs])
    assert _stored(await read_range(db, SITE, *RANGE)) == _expected(*written)
    assert await fold_day(db, SITE, day, wait=True, least=1) == 3
    assert await db[OPEN].count_documents({}) == 0
    [part] = await db[FOLDED].find({"site_id": SITE}).to_list(None)
    assert part["rows"] == 3


async def test_a_session_resumed_after_its_fold_keeps_its_earlier_rows(db: Database) -> None:
    session = _session(7)
    first = _events(session, 1, 2)
    await upsert_events(db, first)
    await record_session(db, session, first, final=True)
    await fold_day(db, SITE, first[0]["day"], wait=True, least=1)
    resumed = {**session, "processed_at": datetime.now(UTC)}
    later = _events(resumed, 3)
    await upsert_events(db, later)
    await record_session(db, resumed, later, final=True)
    await fold_day(db, SITE, first[0]["day"], wait=True, least=1)
    assert _stored(await read_range(db, SITE, *RANGE)) == _expected(first, later)
    [part] = await db[FOLDED].find({"site_id": SITE}).to_list(None)
    assert part["rows"] == 3  # the older version's rows were replaced, not kept beside


async def test_erasing_sessions_leaves_nothing_of_them_folded_or_open(db: Database) -> None:
    kept, erased, erased_open = _session(1), _session(2), _session(3)
    secret = "/orders/secret-path"
    for session in (kept, erased):
        events = _events(session, 1, path=f"{secret}-{session['session_id']}")
        await record_session(db, session, events, final=True)
    await fold_day(db, SITE, _events(kept, 1)[0]["day"], wait=True, least=1)
    await record_session(db, erased_open, _events(erased_open, 2), final=False)
    await event_blocks.erase_sessions(db, SITE, ["s2", "s3"])
    block = await read_range(db, SITE, *RANGE)
    assert {s.session_id for s in block.sessions} == {"s1"}
    assert await mentions(db, ["s2", "v2", "s3", "v3", f"{secret}-s2"]) == []
    assert await mentions(db, [f"{secret}-s1"]) != []


async def test_any_range_reads_exactly_the_days_it_touches(db: Database) -> None:
    by_day = []
    for number in range(4):
        session = _session(number)
        events = _events(session, number * 86_400 + 60)
        by_day.append(events)
        await record_session(db, session, events, final=number % 2 == 0)
    await fold_day(db, SITE, by_day[0][0]["day"], wait=True, least=1)
    for first in range(4):
        for last in range(first, 4):
            start = DAY + timedelta(days=first)
            block = await read_range(db, SITE, start, DAY + timedelta(days=last + 1))
            assert _stored(block) == _expected(*by_day[first : last + 1]), (first, last)


async def test_the_migration_gives_old_sessions_their_blocks_however_it_is_run(
    db: Database,
) -> None:
    """Sessions processed before blocks existed: events stored, no block. The step stopped
    after one batch, resumed, then run again from scratch, gives each its rows once."""
    written = []
    for number in range(5):
        session = {**_session(number), "_id": f"{SITE}:s{number}", "device_type": "mobile",
                   "processed_at": datetime.now(UTC)}  # fmt: skip
        await db["sessions"].insert_one(session)
        events = _events(session, number * 40_000, number * 40_000 + 1)
        await upsert_events(db, events)
        written.append(events)
    await db["sessions"].insert_one({**_session(9), "_id": f"{SITE}:s9"})  # never processed
    step = next(s for s in migrate.STEPS if s.name == event_block_backfill.STEP)
    await db[migrate.COLLECTION].delete_many({})
    assert not await migrate.run_step(db, step, batch_size=2, stop_after=1)
    assert await migrate.run_step(db, step, batch_size=2)
    block = await read_range(db, SITE, *RANGE)
    assert _stored(block) == _expected(*written)
    assert {s.facts.get("device_type") for s in block.sessions} == {"mobile"}
    await db[migrate.COLLECTION].delete_many({})
    assert await migrate.run_step(db, step, batch_size=3)
    assert _stored(await read_range(db, SITE, *RANGE)) == _expected(*written)
    parts = await db[FOLDED].find({"site_id": SITE}).to_list(None)
    assert sum(part["rows"] for part in parts) == 10


async def test_an_erasure_waits_for_a_fold_that_read_the_session_first(db: Database) -> None:
    """A fold holds the day's claim from reading the open blocks to writing the part; the
    erasure, started in between, must still remove what that fold writes."""
    session = _session(4)
    events = _events(session, 7)
    await record_session(db, session, events, final=True)
    [open_doc] = await db[OPEN].find({"site_id": SITE}).to_list(None)
    day = open_doc["day"]
    name, holder = f"event-blocks:{SITE}:{day}", "a fold in progress"
    assert await claims.acquire(db, name, holder, timedelta(seconds=30))
    erasing = asyncio.create_task(event_blocks.erase_sessions(db, SITE, ["s4"]))
    await asyncio.sleep(0.3)
    assert not erasing.done()
    await event_blocks.write_folded(db, SITE, day, [], [event_blocks._block(open_doc)])
    await claims.release(db, name, holder)
    await erasing
    assert await mentions(db, ["s4", "v4"]) == []
