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
whose sessions were erased or moved to an earlier hour costs one empty lookup.
"""

import contextlib
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta

from pymongo.errors import DuplicateKeyError

from storage.database import Database

COLLECTION = "session_buckets"
FIELD = "start_bucket"  # on session documents
HOUR_MS = 3_600_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Coarsest first; each width is a multiple of the next. The top level's parent is 0.
LEVELS: tuple[tuple[str, int], ...] = (
    ("span", 32 * 24 * HOUR_MS),
    ("day", 24 * HOUR_MS),
    ("hour", HOUR_MS),
)


def epoch_ms(when: datetime) -> int:
    """`when` as BSON stores it: whole milliseconds, rounded down; naive means UTC."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return (aware - EPOCH) // timedelta(milliseconds=1)


def bucket_of(ms: int) -> int:
    return ms - ms % HOUR_MS


def _marker_id(site_id: str, level: str, start: int) -> str:
    return f"{site_id}:{level}:{start}"


def _markers(site_id: str, ms: int) -> list[dict[str, object]]:
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
    markers = _markers(site_id, bucket)
    if await db[COLLECTION].find_one({"_id": markers[-1]["_id"]}, projection={"_id": 1}):
        return
    for marker in markers:
        with contextlib.suppress(DuplicateKeyError):
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
