"""Funnel events as compact column blocks (`core.event_columns`), written by extraction.

Two collections, every document written whole and found by equality:

- `event_blocks_open`: one document per session and UTC day, insert-only, its version in
  its `_id` (`site:session:day:version`). Each extraction run merges what it derived into
  the session's previous rows (by the extractor's event keys), inserts the next version and
  deletes the older ones by `_id`, under the session's lease.
- `event_blocks`: a site's day as a few parts (`site:day:part`) of at most `PART_ROWS`
  events. Finished sessions' open blocks are folded into the day's last part, under a
  per-(site, day) claim, once `FOLD_AT` of them wait; the part is replaced whole by `_id`
  before the folded open blocks are deleted, so a crash in between leaves a duplicate that
  readers and the next fold recognise by the session's version.
- `event_block_days`: a marker per (site, day) that has blocks, so a read over a long
  range asks only for the days that hold data.

A funnel's read is a query for the site's days in range, one for its open blocks in range,
and one for its parts in range (when those days are at least half of the site's days) or
one per day: equality on `site_id` (and `day`) pushed down by FerretDB, day ranges served
by the `site_day` indexes on MongoDB. Rows of a session that appears twice (an open block newer
than its folded rows, or a fold interrupted before its cleanup) are taken from the newest.
"""

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
import zstandard
from bson import Binary
from pymongo.errors import DuplicateKeyError

from core.epoch import day_of, epoch_ms
from core.event_columns import (
    Block,
    BlockSession,
    event_key,
    events_of,
    merged,
    pack,
    session_block,
    split_by_day,
    unpack,
    without_sessions,
)
from storage import claims, events
from storage.crash_points import crash_point
from storage.database import Database, Document
from storage.sessions import SessionDocument

OPEN = "event_blocks_open"
FOLDED = "event_blocks"
DAYS = "event_block_days"
COLLECTIONS = (OPEN, FOLDED, DAYS)
SESSION_FACTS = ("device_type", "browser", "country")
PART_ROWS = 50_000
FOLD_AT = 16
FOLD_LEASE = timedelta(seconds=60)
CLAIM_WAIT_S = 30.0
READ_CONCURRENCY = 4


class BlockBusy(RuntimeError):
    """A (site, day) stayed claimed by another worker longer than `CLAIM_WAIT_S`."""


# Documents.


def _document(site_id: str, day: int, block: Block) -> Document:
    """Columns and tables as two zstd blobs: FerretDB decodes a few binaries far faster
    than thousands of nested values. `session_ids` stays a plain array for erasure."""
    tables = {
        "strings": block.strings,
        "elements": list(block.elements),
        "sessions": [
            {"id": s.session_id, "visitor": s.visitor_id, "v": s.version, "facts": dict(s.facts)}
            for s in block.sessions
        ],
    }
    return {
        "site_id": site_id,
        "day": day,
        "rows": len(block.columns),
        "columns": Binary(pack(block.columns)),
        "tables": _zstd_json(tables),
        "session_ids": [s.session_id for s in block.sessions],
    }


def _zstd_json(value: Any) -> Binary:
    return Binary(zstandard.ZstdCompressor().compress(orjson.dumps(value)))


def _unzstd_json(blob: bytes) -> Any:
    return orjson.loads(zstandard.ZstdDecompressor().decompress(blob))


def _block(doc: Document) -> Block:
    tables = _unzstd_json(bytes(doc["tables"]))
    sessions = [
        BlockSession(s["id"], s["visitor"], int(s["v"]), s.get("facts") or {})
        for s in tables["sessions"]
    ]
    keys = _unzstd_json(bytes(doc["keys"])) if "keys" in doc else None
    columns = unpack(bytes(doc["columns"]), int(doc["rows"]))
    return Block(sessions, tables["strings"], tables["elements"], columns, keys)


def _open_id(site_id: str, session_id: str, day: int, version: int) -> str:
    return f"{site_id}:{session_id}:{day}:{version}"


def _open_document(site_id: str, day: int, block: Block, final: bool) -> Document:
    [session] = block.sessions
    return {
        "_id": _open_id(site_id, session.session_id, day, session.version),
        **_document(site_id, day, block),
        "session_id": session.session_id,
        "visitor_id": session.visitor_id,
        "version": session.version,
        "final": final,
        "keys": _zstd_json(block.keys or []),
    }


# Writing a session's blocks (extraction, under the session's lease).


async def _open_documents(db: Database, site_id: str, session_id: str) -> list[Document]:
    return await db[OPEN].find({"site_id": site_id, "session_id": session_id}).to_list(None)


async def record_session(
    db: Database, session: SessionDocument, derived: Iterable[Document], *, final: bool
) -> None:
    """Merge a run's derived events into the session's open blocks, one new version per day.

    A session processed before that has no open block (it was folded, or processed before
    blocks existed) starts from its stored events. Versions are the larger of the previous
    open version plus one and the clock in microseconds: a session is folded only once
    quiet, so a later run's clock is past every folded version.
    """
    site_id, session_id = session["site_id"], session["session_id"]
    before = await _open_documents(db, site_id, session_id)
    version = max([time.time_ns() // 1000] + [int(d["version"]) + 1 for d in before])
    by_key: dict[str, Any] = {}
    if before:
        for doc in _newest_per_day(before):
            by_key.update((e["key"], e) for e in events_of(_block(doc)))
    elif session.get("processed_at") is not None:
        query = {"site_id": site_id, "session_id": session_id}
        async for event in db[events.COLLECTION].find(query):
            by_key[event_key(event)] = event
    by_key.update((event_key(d), d) for d in derived)
    owner = BlockSession(session_id, session["visitor_id"], version, facts_of(session))
    days = split_by_day(session_block(owner, by_key.values()))
    for day, block in days.items():
        await _mark_day(db, site_id, day)
        await db[OPEN].insert_one(_open_document(site_id, day, block, final))
    crash_point("event_blocks.version_written")
    for doc in before:
        await db[OPEN].delete_one({"_id": doc["_id"]})
    if final:
        for day in days:
            await fold_day(db, site_id, day, wait=False)


def _newest_per_day(docs: Sequence[Document]) -> list[Document]:
    newest: dict[int, Document] = {}
    for doc in docs:
        if doc["day"] not in newest or doc["version"] > newest[doc["day"]]["version"]:
            newest[doc["day"]] = doc
    return list(newest.values())


def facts_of(session: Mapping[str, Any]) -> dict[str, str]:
    return {name: session[name] for name in SESSION_FACTS if isinstance(session.get(name), str)}


async def _mark_day(db: Database, site_id: str, day: int) -> None:
    with contextlib.suppress(DuplicateKeyError):
        await db[DAYS].insert_one({"_id": f"{site_id}:{day}", "site_id": site_id, "day": day})


# Folding finished sessions into a day's parts (under a claim on the site and day).


class _DayClaim:
    def __init__(self, db: Database, site_id: str, day: int, wait: bool) -> None:
        self.db, self.name, self.wait = db, f"event-blocks:{site_id}:{day}", wait
        self.holder = uuid.uuid4().hex
        self.held = False

    async def __aenter__(self) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (CLAIM_WAIT_S if self.wait else 0)
        while not (held := await claims.acquire(self.db, self.name, self.holder, FOLD_LEASE)):
            if loop.time() >= deadline:
                if self.wait:
                    raise BlockBusy(f"{self.name} stayed claimed for {CLAIM_WAIT_S:.0f} s")
                return False
            await asyncio.sleep(0.1)
        self.held = held
        return True

    async def __aexit__(self, *_: object) -> None:
        if self.held:
            await claims.release(self.db, self.name, self.holder)


async def fold_day(
    db: Database, site_id: str, day: int, *, wait: bool, least: int | None = None
) -> int:
    """Fold the day's finished open blocks into its parts once `least` (`FOLD_AT`) of them
    wait; returns how many were folded (0 when the day is claimed and `wait` is False)."""
    async with _DayClaim(db, site_id, day, wait) as held:
        if not held:
            return 0
        waiting = [d for d in await db[OPEN].find({"site_id": site_id, "day": day}).to_list(None)
                   if d.get("final")]  # fmt: skip
        if len(waiting) < (FOLD_AT if least is None else least):
            return 0
        parts = await _parts(db, site_id, day)
        await write_folded(db, site_id, day, parts, [_block(d) for d in waiting])
        crash_point("event_blocks.folded")
        for doc in waiting:
            await db[OPEN].delete_one({"_id": doc["_id"]})
        return len(waiting)


async def fold_sessions(db: Database, site_id: str, day: int, blocks: list[Block]) -> None:
    """Fold one-session blocks of the day straight into its parts (imports, migrations)."""
    async with _DayClaim(db, site_id, day, wait=True):
        await _mark_day(db, site_id, day)
        await write_folded(db, site_id, day, await _parts(db, site_id, day), blocks)


async def _parts(db: Database, site_id: str, day: int) -> list[Document]:
    found = await db[FOLDED].find({"site_id": site_id, "day": day}).to_list(None)
    return sorted(found, key=lambda doc: doc["part"])


async def write_folded(
    db: Database, site_id: str, day: int, parts: list[Document], fresh: list[Block]
) -> None:
    """The day's `parts` (as read, under the day's claim) without the fresh sessions' older
    rows, and the fresh sessions' rows added after the last part's."""
    blocks = [_block(doc) for doc in parts]
    fresh = [b for b in fresh if not _already_folded(b, blocks)]
    if not fresh:
        return
    versions = {s.session_id: s.version for b in fresh for s in b.sessions}
    for doc, block in zip(parts, blocks, strict=True):
        stale = {s.session_id for s in block.sessions if s.session_id in versions}
        stale -= {s.session_id for s in block.sessions if versions.get(s.session_id) == s.version}
        if stale:
            await _replace_part(db, site_id, day, doc["part"], without_sessions(block, stale))
    next_part = len(parts)
    if parts and parts[-1]["rows"] + len(fresh[0].columns) <= PART_ROWS:
        tail = await _parts(db, site_id, day)
        fresh = [_block(tail[-1]), *fresh]
        next_part -= 1
    for group in _groups(fresh):
        await _replace_part(db, site_id, day, next_part, merged(group))
        next_part += 1


def _groups(blocks: list[Block]) -> list[list[Block]]:
    """The blocks in order, cut into groups of at most `PART_ROWS` rows (a bigger block
    alone)."""
    groups: list[list[Block]] = []
    rows = 0
    for block in blocks:
        if not groups or rows + len(block.columns) > PART_ROWS:
            groups.append([])
            rows = 0
        groups[-1].append(block)
        rows += len(block.columns)
    return groups


def _already_folded(block: Block, parts: list[Block]) -> bool:
    [session] = block.sessions
    return any(
        s.session_id == session.session_id and s.version >= session.version
        for part in parts
        for s in part.sessions
    )


async def _replace_part(db: Database, site_id: str, day: int, part: int, block: Block) -> None:
    doc = {"_id": f"{site_id}:{day}:{part}", "part": part, **_document(site_id, day, block)}
    await db[FOLDED].replace_one({"_id": doc["_id"]}, doc, upsert=True)


# Reading.


async def read_range(db: Database, site_id: str, start: datetime, end: datetime) -> Block:
    """Every stored funnel event of the site on the days [start, end) touches, one block
    (rows outside the range are left for the caller's time mask)."""
    first, last = day_of(epoch_ms(start)), day_of(epoch_ms(end) - 1)
    in_range = {"site_id": site_id, "day": {"$gte": first, "$lte": last}}
    days = sorted(doc["day"] for doc in await db[DAYS].find(in_range).to_list(None))
    open_docs = await db[OPEN].find(in_range).to_list(None)
    site_days = await db[DAYS].count_documents({"site_id": site_id})
    docs = await _parts_of_days(db, site_id, days, first, last, whole=2 * len(days) >= site_days)
    docs += open_docs
    return merged(_newest_only([(doc["day"], _block(doc)) for doc in docs]))


async def _parts_of_days(
    db: Database, site_id: str, days: list[int], first: int, last: int, *, whole: bool
) -> list[Document]:
    """The parts of the given days (all in [first, last]): one query for the range when
    they are at least half of the site's days (fewer round trips; FerretDB pushes down only
    the `site_id` equality), else one equality query per day."""
    if whole:
        query = {"site_id": site_id, "day": {"$gte": first, "$lte": last}}
        return await db[FOLDED].find(query).to_list(None)
    gate = asyncio.Semaphore(READ_CONCURRENCY)

    async def day_parts(day: int) -> list[Document]:
        async with gate:
            return await _parts(db, site_id, day)

    return [doc for found in await asyncio.gather(*map(day_parts, days)) for doc in found]


def _newest_only(blocks: list[tuple[int, Block]]) -> list[Block]:
    """Each (session, day)'s rows from its newest version only."""
    newest: dict[tuple[str, int], int] = {}
    for day, block in blocks:
        for s in block.sessions:
            key = (s.session_id, day)
            newest[key] = max(newest.get(key, 0), s.version)
    kept = []
    for day, block in blocks:
        old = {s.session_id for s in block.sessions if s.version < newest[(s.session_id, day)]}
        kept.append(without_sessions(block, old) if old else block)
    return kept


# Erasure.


async def erase_sessions(db: Database, site_id: str, session_ids: Sequence[str]) -> None:
    """Every row, table entry and open block of the sessions, whatever the day.

    Each day is cleaned under its claim, open blocks first: a fold that read one of the
    sessions' open blocks before the erasure began has written its part by the time the
    claim is ours, so its rows are found and removed there.
    """
    wanted = set(session_ids)
    days: set[int] = set()
    for session_id in wanted:
        query = {"site_id": site_id, "session_id": session_id}
        days.update([doc["day"] async for doc in db[OPEN].find(query, projection={"day": 1})])
        query = {"site_id": site_id, "session_ids": session_id}
        days.update([doc["day"] async for doc in db[FOLDED].find(query, projection={"day": 1})])
    for day in sorted(days):
        async with _DayClaim(db, site_id, day, wait=True):
            for session_id in wanted:
                await db[OPEN].delete_many({"site_id": site_id, "session_id": session_id,
                                            "day": day})  # fmt: skip
            for doc in await _parts(db, site_id, day):
                block = _block(doc)
                if wanted & {s.session_id for s in block.sessions}:
                    await _replace_part(db, site_id, day, doc["part"],
                                        without_sessions(block, wanted))  # fmt: skip
