"""Which hours of a site have sessions: the index a session list walks.

Every session carries `start_bucket`, the hour its `started_at` falls in (epoch
ms), so a list reads one hour's sessions with one equality lookup (`site_id`,
`start_bucket`) and sorts those few documents itself; FerretDB pushes top-level
equality down and never a sort. An hour holds a few hundred sessions while a
site records fewer than about 5,000 a day (a busy hour is two to three times
the average one), and a page of 100 at most then needs one or two hours.

To skip the hours without sessions, each hour with sessions has a marker
document here, as has its day and its 32-day span: a walk reads the site's spans,
then the days of one span, then the hours of one day (at most 24), all by
equality on small documents. Markers are only ever inserted (a duplicate means
another writer was first), so concurrent writers cannot lose one of them on
FerretDB, whose updates are read-modify-write. A marker is written before the
session that needs it, so a listed session's hour is always marked; a marker
whose sessions were erased or moved to an earlier hour costs one empty lookup
until retention prunes it (`prune`), so a list in ascending order does not walk
months of erased hours.
"""

import contextlib
from collections.abc import AsyncGenerator
from typing import Final

from pymongo.errors import DuplicateKeyError

from storage.database import Database

COLLECTION = "session_buckets"
SESSIONS = "sessions"
FIELD: Final = "start_bucket"  # on session documents
HOUR_MS = 3_600_000
# `prune` leaves the markers of the last day alone, so a session written into an hour
# newer than this never needs its markers confirmed (`confirm`).
SETTLED_MS = 24 * HOUR_MS
# Coarsest first; each width is a multiple of the next. The top level's parent is 0.
LEVELS: tuple[tuple[str, int], ...] = (
    ("span", 32 * 24 * HOUR_MS),
    ("day", 24 * HOUR_MS),
    ("hour", HOUR_MS),
)


def bucket_of(ms: int) -> int:
    return ms - ms % HOUR_MS


def _marker_id(site_id: str, level: str, start: int) -> str:
    return f"{site_id}:{level}:{start}"


def markers_of(site_id: str, ms: int) -> list[dict[str, object]]:
    """The span, day and hour markers of time `ms`, coarsest first."""
    parent, markers = 0, []
    for level, width in LEVELS:
        start = ms - ms % width
        markers.append(
            {"_id": _marker_id(site_id, level, start), "site_id": site_id,
             "level": level, "start": start, "parent": parent}
        )  # fmt: skip
        parent = start
    return markers


async def mark(db: Database, site_id: str, bucket: int) -> None:
    """Record that `bucket` of the site has sessions (before they are written).

    The hour marker is inserted last, so once it exists its day and span do too,
    and one `_id` lookup is all a known hour costs.
    """
    markers = markers_of(site_id, bucket)
    if await _exists(db, markers[-1]["_id"]):
        return
    for marker in markers:
        await _insert(db, marker)


async def confirm(db: Database, site_id: str, bucket: int, now_ms: int) -> None:
    """After a session was written into `bucket`: put back any of its markers that a
    concurrent `prune` removed between `mark` and the session's write.

    Finest first: `prune` drops a day only once it has no hours, and this hour is back
    before the day is looked at. Only old hours can be pruned (`SETTLED_MS`).
    """
    if bucket >= bucket_of(now_ms - SETTLED_MS) + HOUR_MS:  # an hour of slack between clocks
        return
    for marker in reversed(markers_of(site_id, bucket)):
        if not await _exists(db, marker["_id"]):
            await _insert(db, marker)


async def prune(db: Database, site_id: str, before: int, now_ms: int) -> int:
    """Drop the site's markers of hours before `before` (ms) in which no session starts
    any more (after retention or erasure), then days and spans left without hours;
    how many markers went.

    Each marker is deleted and then its hour looked at again: a session written meanwhile
    gets its marker back, here or by its writer's `confirm`.
    """
    before = min(before, bucket_of(now_ms - SETTLED_MS))
    removed = 0
    for depth, (level, width) in reversed(list(enumerate(LEVELS))):
        cursor = db[COLLECTION].find({"site_id": site_id, "level": level})
        for marker in await cursor.to_list(None):
            if marker["start"] + width <= before:
                removed += await _drop_unless_used(db, marker, depth)
    return removed


async def _drop_unless_used(db: Database, marker: dict[str, object], depth: int) -> int:
    if await _used(db, marker, depth):
        return 0
    await db[COLLECTION].delete_one({"_id": marker["_id"]})
    if await _used(db, marker, depth):
        await _insert(db, marker)
        return 0
    return 1


async def _used(db: Database, marker: dict[str, object], depth: int) -> bool:
    """Whether a session starts in the marker's hour, or a finer marker lies below it."""
    site_id, start = marker["site_id"], marker["start"]
    if depth == len(LEVELS) - 1:
        query = {"site_id": site_id, FIELD: start}
        return await db[SESSIONS].find_one(query, projection={"_id": 1}) is not None
    child = {"site_id": site_id, "level": LEVELS[depth + 1][0], "parent": start}
    return await db[COLLECTION].find_one(child, projection={"_id": 1}) is not None


async def _exists(db: Database, marker_id: object) -> bool:
    return await db[COLLECTION].find_one({"_id": marker_id}, projection={"_id": 1}) is not None


async def _insert(db: Database, marker: dict[str, object]) -> None:
    with contextlib.suppress(DuplicateKeyError):  # another writer was first
        await db[COLLECTION].insert_one(marker)


async def walk(
    db: Database, site_id: str, *, newest: int | None, oldest: int | None, descending: bool
) -> AsyncGenerator[int, None]:
    """The site's marked hours between the hours of `oldest` and `newest` (ms, inclusive,
    None: unbounded), newest first when `descending`, read lazily level by level."""
    async for bucket in _walk(db, site_id, 0, 0, newest, oldest, descending):
        yield bucket


async def _walk(
    db: Database,
    site_id: str,
    depth: int,
    parent: int,
    newest: int | None,
    oldest: int | None,
    descending: bool,
) -> AsyncGenerator[int, None]:
    level, width = LEVELS[depth]
    cursor = db[COLLECTION].find(
        {"site_id": site_id, "level": level, "parent": parent}, projection={"start": 1}
    )
    starts = [
        doc["start"]
        async for doc in cursor
        if (oldest is None or doc["start"] >= oldest - oldest % width)
        and (newest is None or doc["start"] <= newest)
    ]
    starts.sort(reverse=descending)
    for start in starts:
        if depth == len(LEVELS) - 1:
            yield start
        else:
            async for bucket in _walk(db, site_id, depth + 1, start, newest, oldest, descending):
                yield bucket
