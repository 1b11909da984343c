"""Lists by start time read hour by hour, and give what the sorted query over every session gives.

Sessions are written through ingestion's own write (`sessions.record_batch`) across
day and 32-day span edges, at hour edges (on them, a millisecond either side), with
equal start times, and with a later batch moving a start into an earlier hour. Every
filter the hour path serves (found by asking `session_search.by_hour`, so a field it
serves later is tested too) is listed page by page in both orders and compared, ids
and order, with `scan_sessions`, the sorted query. Sessions written before the hour
field existed are listed the same before, during and after the migration.
"""

import random
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

from core.epoch import epoch_ms
from storage import migrate, session_backfill, session_buckets, sessions
from storage.database import Database, Document
from storage.indexes import ensure_indexes
from storage.session_search import (
    Position,
    SessionFilter,
    SortKey,
    by_hour,
    scan_sessions,
    search_sessions,
)

SITE, OTHER_SITE = "6b0b91e55d5cf409b79cc124", "6b0b91e55d5cf409b79cc125"
HOUR = session_buckets.HOUR_MS
SPAN_EDGE = 650 * 32 * 24 * HOUR  # a 32-day span (and a day) starts here
CLIENTS = {
    "browser": ["Chrome", "Firefox", "Safari"],
    "os": ["Windows", "iOS", "Android"],
    "device_type": ["desktop", "mobile", "tablet"],
    "country": ["FR", "DE", None],
}


def _starts(rng: random.Random) -> list[int]:
    edges = [SPAN_EDGE + h * HOUR for h in (-30, -24, -1, 0, 1, 5, 19)]
    starts = [rng.randrange(SPAN_EDGE - 30 * HOUR, SPAN_EDGE + 20 * HOUR) for _ in range(150)]
    starts += [edge + d for edge in edges for d in (-1, 0, 1)]
    starts += [SPAN_EDGE + 3 * HOUR + 777] * 4 + [SPAN_EDGE - 2 * HOUR] * 3  # equal starts
    return starts


async def _write(db: Database, site_id: str, n: int, first_ms: int, rng: random.Random) -> None:
    client = {name: rng.choice(values) for name, values in CLIENTS.items()}
    summary = sessions.BatchSummary(
        site_id, f"s{n:04d}", f"v{n % 17}", 0, first_ms, first_ms + 60_000, 10, [], [], None,
        client, {},
    )  # fmt: skip
    await sessions.record_batch(db, summary, None)


async def _world(db: Database) -> None:
    rng = random.Random(15)
    for n, start in enumerate(_starts(rng)):
        await _write(db, SITE, n, start, rng)
    for n in range(20):
        await _write(db, OTHER_SITE, n, SPAN_EDGE + rng.randrange(-5 * HOUR, 5 * HOUR), rng)
    # A later batch that started earlier moves its session into the hour before.
    moved = await sessions.find_session(db, SITE, "s0000")
    assert moved is not None
    early = sessions.BatchSummary(
        SITE, "s0000", "v0", 1, epoch_ms(moved["started_at"]) - 2 * HOUR,
        epoch_ms(moved["started_at"]), 5, [], [], None, {}, {},
    )  # fmt: skip
    await sessions.record_batch(db, early, moved)


def _at(ms: int, micros: int = 0) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC) + timedelta(microseconds=micros)


def _windows() -> list[tuple[datetime | None, datetime | None]]:
    edge = SPAN_EDGE
    return [
        (_at(edge - 24 * HOUR), _at(edge + 2 * HOUR)),
        (None, _at(edge)),
        (_at(edge - 1), None),
        (_at(edge + HOUR, 500), _at(edge + 5 * HOUR + 1, 999)),  # sub-millisecond bounds
        (_at(edge + 3 * HOUR + 777), _at(edge + 3 * HOUR + 778)),  # the equal starts only
        (_at(edge + 40 * HOUR), None),  # nothing
    ]


def _sample(name: str, docs: list[Document]) -> Any:
    """A value of filter field `name` that some of the sessions match."""
    values = [doc.get(name) for doc in docs if doc.get(name) is not None]
    return max(set(values), key=values.count) if values else "missing"


async def _served_filters(db: Database) -> list[SessionFilter]:
    docs = await db["sessions"].find({"site_id": SITE}).to_list(None)
    served = [SessionFilter(started_after=a, started_before=b) for a, b in _windows()]
    equal = []
    for field in fields(SessionFilter):
        if field.name.startswith("started_"):
            continue
        one = SessionFilter(**{field.name: _sample(field.name, docs)})
        if by_hour(one):
            equal.append(field.name)
            served.append(one)
    assert {"browser", "os", "device_type", "country"} <= set(equal), equal
    window = _windows()[0]
    both = {name: _sample(name, docs) for name in equal[:2]}
    served.append(SessionFilter(started_after=window[0], started_before=window[1], **both))
    served.append(SessionFilter(country="missing"))
    assert all(by_hour(f) for f in served)
    return [SessionFilter(), *served]


async def _pages(
    db: Database, f: SessionFilter, *, descending: bool, size: int, scan: bool
) -> list[list[str]]:
    pages: list[list[str]] = []
    after = None
    read = scan_sessions if scan else search_sessions
    while True:
        page = await read(
            db, SITE, f, sort=SortKey.STARTED_AT, descending=descending, after=after, limit=size
        )
        pages.append([doc["_id"] for doc in page])
        if len(page) < size:
            return pages
        after = Position(page[-1]["started_at"], page[-1]["_id"])


async def _assert_same_lists(
    db: Database, filters: list[SessionFilter], sizes: tuple[int, ...]
) -> int:
    listed = 0
    for f in filters:
        for descending in (True, False):
            for size in sizes:
                expected = await _pages(db, f, descending=descending, size=size, scan=True)
                got = await _pages(db, f, descending=descending, size=size, scan=False)
                assert got == expected, (f, descending, size)
                listed += sum(map(len, expected))
    return listed


async def test_hour_by_hour_pages_equal_the_sorted_query(db: Database) -> None:
    await ensure_indexes(db)  # a new database: the migration finds nothing and is done
    await _world(db)
    assert await migrate.is_done(db, session_backfill.STEP)
    every = await db["sessions"].find({}).to_list(None)
    assert all(
        doc[session_buckets.FIELD] == session_buckets.bucket_of(epoch_ms(doc["started_at"]))
        for doc in every
    )
    listed = await _assert_same_lists(db, await _served_filters(db), (9, 50))
    assert listed > 1000  # the filters are not all empty


def _old_layout(rng: random.Random, site_id: str, n: int, start_ms: int) -> Document:
    """A session as ingestion wrote it before `start_bucket` existed."""
    started = _at(start_ms)
    return {
        "_id": f"{site_id}:old{n:04d}", "site_id": site_id, "session_id": f"old{n:04d}",
        "visitor_id": f"v{n % 7}", "started_at": started,
        "last_activity_at": started + timedelta(minutes=1), "duration_ms": 60_000,
        **{name: rng.choice(values) for name, values in CLIENTS.items()},
    }  # fmt: skip


async def test_the_migration_lists_old_sessions_the_same_however_it_is_run(db: Database) -> None:
    rng = random.Random(7)
    old = [_old_layout(rng, SITE, n, start) for n, start in enumerate(_starts(rng))]
    await db["sessions"].insert_many(old)
    step = migrate.STEPS[0]
    filters = [
        SessionFilter(),
        SessionFilter(started_after=_at(SPAN_EDGE - HOUR), browser="Chrome"),
    ]

    async def listings() -> list[list[list[str]]]:
        await _assert_same_lists(db, filters, (25,))
        return [await _pages(db, f, descending=True, size=25, scan=False) for f in filters]

    late = sessions.BatchSummary(  # new code writes to an old session, 3 h after its start
        SITE, old[0]["session_id"], old[0]["visitor_id"], 1,
        epoch_ms(old[0]["started_at"]) + 3 * HOUR,
        epoch_ms(old[0]["started_at"]) + 4 * HOUR, 5, [], [], None, {}, {},
    )  # fmt: skip
    await sessions.record_batch(db, late, old[0])
    before = await listings()
    assert not await migrate.run_step(db, step, batch_size=40, stop_after=2)  # cut short
    assert not await migrate.is_done(db, step.name)
    assert await listings() == before
    await _write(db, SITE, 9999, SPAN_EDGE + 7, rng)  # new code writes meanwhile
    assert await migrate.run_step(db, step, batch_size=40)  # resumed
    markers = await db[session_buckets.COLLECTION].find({}).to_list(None)
    after = await listings()
    assert await migrate.run_step(db, step, batch_size=40)  # done: a second run skips it
    await db[migrate.COLLECTION].delete_many({})
    assert await migrate.run_step(db, step, batch_size=40)  # and redoing it changes nothing
    assert await db[session_buckets.COLLECTION].find({}).to_list(None) == markers
    assert await listings() == after
    new_id = f"{SITE}:s9999"
    flat = [i for page in after[0] for i in page]
    assert new_id in flat
    assert [i for i in flat if i != new_id] == [i for page in before[0] for i in page]
    done = await db[migrate.COLLECTION].find_one({"_id": step.name})
    assert done is not None
    assert "after" not in done  # no session id stays behind
