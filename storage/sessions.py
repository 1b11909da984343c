"""Sessions: one visit, summarised as batches arrive, found by the API's filters.

Every update here is idempotent (`$min`, `$max`, `$addToSet`, `$set` of a
key), so a batch retried after a failure leaves the same session behind.

`compacted_seqs` lists (as ranges, see storage.seq_ranges) the batches that
compaction moved into verified parts. Their chunks are deleted, so the chunk's
key no longer turns a resent batch away; this list does, and ingest reads it
with the session it reads anyway.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict, cast

from core.epoch import epoch_ms, from_epoch_ms
from storage import engine, seq_ranges, session_buckets
from storage.database import Database, Document
from storage.ids import session_key

COLLECTION = "sessions"
MAX_PAGES = 500
MAX_URLS = 200


class PageVisitDocument(TypedDict):
    url: str
    path: str
    at: int  # epoch ms


class RollupPending(TypedDict):
    """A heatmap rollup a worker is applying (see workers.heatmap_rollup)."""

    token: str
    buckets: list[dict[str, Any]]  # storage.heatmaps.to_document
    events: list[str]  # event ids
    chunks: list[str]  # chunk keys
    counted: bool


class SessionDocument(TypedDict):
    """A session as stored. The fields not required are absent from sessions that no
    batch or run has set them on yet, or written before they existed; `privacy_state`
    and `chunks` are also left out of the lists (`storage.session_search.PROJECTION`)."""

    _id: str  # storage.ids.session_key(site_id, session_id)
    site_id: str
    session_id: str
    visitor_id: str
    started_at: datetime
    start_bucket: NotRequired[int]  # storage.session_buckets.FIELD
    last_activity_at: datetime
    last_chunk_at: NotRequired[datetime]  # server time
    created_at: NotRequired[datetime]
    updated_at: NotRequired[datetime]
    duration_ms: NotRequired[int]
    page_count: NotRequired[int]
    chunk_count: NotRequired[int]
    event_count: NotRequired[int]
    chunks: NotRequired[dict[str, int]]  # event count by batch seq
    pages: NotRequired[list[PageVisitDocument]]
    urls: NotRequired[list[str]]
    entry_url: NotRequired[str]
    exit_url: NotRequired[str]
    viewport: NotRequired[dict[str, int]]
    privacy_state: NotRequired[dict[str, list[int]]]  # core.rrweb.privacy.PrivacyState
    # The client (api.ingest.pipeline), set on insert.
    browser: NotRequired[str | None]
    browser_version: NotRequired[str | None]
    os: NotRequired[str | None]
    os_version: NotRequired[str | None]
    device_type: NotRequired[str | None]
    country: NotRequired[str | None]
    ip: NotRequired[str]
    # Extraction's ProcessedSummary.
    click_count: NotRequired[int]
    rage_click_count: NotRequired[int]
    dead_click_count: NotRequired[int]
    error_click_count: NotRequired[int]
    error_count: NotRequired[int]
    frustrated: NotRequired[bool]
    incomplete: NotRequired[str | None]
    replayable: NotRequired[bool]
    processed_at: NotRequired[datetime]
    # Compaction.
    needs_compaction: NotRequired[bool]
    compacted_at: NotRequired[datetime]
    compacted_seqs: NotRequired[list[seq_ranges.Range]]
    heatmap_pending: NotRequired[RollupPending]


class QuietSession(TypedDict):
    """A session compaction may take (`quiet_sessions`)."""

    _id: str
    site_id: str
    session_id: str
    last_chunk_at: datetime


@dataclass(frozen=True)
class PageVisit:
    url: str
    path: str
    at: int  # epoch ms


@dataclass(frozen=True)
class BatchSummary:
    site_id: str
    session_id: str
    visitor_id: str
    seq: int
    first_ts: int
    last_ts: int
    event_count: int
    pages: list[PageVisit]
    urls: list[str]
    viewport: dict[str, int] | None
    client: dict[str, Any]
    privacy_state: Document
    on_insert: dict[str, Any] = field(default_factory=dict)
    # When this batch wrote its visitor, already (server time); None when it skipped it.
    visitor_noted_at: datetime | None = None


@dataclass(frozen=True)
class SessionRef:
    """Where a session's recording lives: its site and the session id the snippet chose."""

    site_id: str
    session_id: str


@dataclass(frozen=True)
class ProcessedSummary:
    """What extraction learned about a session, set on it after each run."""

    click_count: int
    rage_click_count: int
    dead_click_count: int
    error_click_count: int
    error_count: int
    frustrated: bool
    incomplete: str | None  # why the session cannot be replayed whole
    replayable: bool


async def find_ref(db: Database, session_internal_id: str) -> SessionRef | None:
    doc = await db[COLLECTION].find_one(
        {"_id": session_internal_id}, projection={"site_id": 1, "session_id": 1}
    )
    return SessionRef(doc["site_id"], doc["session_id"]) if doc is not None else None


async def record_processed(
    db: Database, site_id: str, session_id: str, summary: ProcessedSummary
) -> None:
    await db[COLLECTION].update_one(
        {"_id": session_key(site_id, session_id)},
        {"$set": {**asdict(summary), "processed_at": datetime.now(UTC)}},
    )


async def find_by_id(db: Database, session_internal_id: str) -> SessionDocument | None:
    """The session without its `privacy_state`."""
    doc = await db[COLLECTION].find_one(
        {"_id": session_internal_id}, projection={"privacy_state": 0}
    )
    return cast(SessionDocument | None, doc)


async def find_session(db: Database, site_id: str, session_id: str) -> SessionDocument | None:
    doc = await db[COLLECTION].find_one({"_id": session_key(site_id, session_id)})
    return cast(SessionDocument | None, doc)


# The session as read before a batch (a SessionDocument), for `record_batch` and its helpers.
_Existing = Mapping[str, Any] | None


def visitor_noted_at(session: _Existing) -> datetime | None:
    """When a batch of `session` last wrote its visitor (see storage.visitors.due)."""
    noted: datetime | None = (session or {}).get("visitor_noted_at")
    return noted


async def record_batch(db: Database, batch: BatchSummary, existing: _Existing) -> None:
    """Fold one batch into its session (`existing`, as read before), in one write.

    The summary fields are derived from `existing` plus this batch and written
    with `$max`, so a summary computed from a slightly stale read never moves
    backwards, and the next batch brings it up to date.
    """
    added = [vars(p) for p in _room(existing, "pages", MAX_PAGES, batch.pages)]
    pages = _merged_pages(existing, added)
    bucket = await _marked_bucket(db, batch, existing)
    update: dict[str, Any] = {
        "$setOnInsert": {
            "site_id": batch.site_id,
            "session_id": batch.session_id,
            "created_at": datetime.now(UTC),
            **batch.client,
            **batch.on_insert,
        },
        # The hour of `started_at`, kept with it by the same `$min` (see storage.session_buckets).
        "$min": {"started_at": from_epoch_ms(batch.first_ts), session_buckets.FIELD: bucket},
        "$max": {
            "last_activity_at": from_epoch_ms(batch.last_ts),
            # The server's clock at the write: compaction's guard and retention read it.
            "last_chunk_at": datetime.now(UTC),
            **_derived(batch, existing, pages),
            **({"visitor_noted_at": batch.visitor_noted_at} if batch.visitor_noted_at else {}),
        },
        "$set": {
            f"chunks.{batch.seq}": batch.event_count,
            "privacy_state": batch.privacy_state,
            "visitor_id": batch.visitor_id,
            "updated_at": datetime.now(UTC),
            "needs_compaction": True,
            **_entry_and_exit(pages),
        },
        "$addToSet": {
            "pages": {"$each": added},
            "urls": {"$each": _room(existing, "urls", MAX_URLS, batch.urls)},
        },
    }
    if batch.viewport:
        update["$set"]["viewport"] = batch.viewport
    query = {"_id": session_key(batch.site_id, batch.session_id)}
    await engine.raced_upsert(db, lambda: db[COLLECTION].update_one(query, update, upsert=True))
    if bucket != (existing or {}).get(session_buckets.FIELD):
        await session_buckets.confirm(db, batch.site_id, bucket, _now_ms())


async def insert_whole(db: Database, session: Document) -> None:
    """Store a session document made elsewhere (an import, a fixture) with its start hour
    and hour marker, so lists by start time find it."""
    bucket = session_buckets.bucket_of(epoch_ms(session["started_at"]))
    await session_buckets.mark(db, session["site_id"], bucket)
    await db[COLLECTION].insert_one({**session, session_buckets.FIELD: bucket})


def _now_ms() -> int:
    return epoch_ms(datetime.now(UTC))


async def _marked_bucket(db: Database, batch: BatchSummary, existing: _Existing) -> int:
    """The start hour this batch gives its session, marked first when it is a new one."""
    first = batch.first_ts
    if existing:
        first = min(first, epoch_ms(existing["started_at"]))
    bucket = session_buckets.bucket_of(first)
    known = (existing or {}).get(session_buckets.FIELD)
    if known is None or bucket < known:
        await session_buckets.mark(db, batch.site_id, bucket)
    return bucket


def _room(existing: _Existing, name: str, most: int, new: list[Any]) -> list[Any]:
    """The part of `new` that still fits, so a long session's document stays bounded."""
    known = len((existing or {}).get(name) or [])
    return new[: max(0, most - known)]


def _merged_pages(existing: _Existing, added: list[Document]) -> list[Document]:
    known = (existing or {}).get("pages") or []
    merged = {(p["url"], p["at"]): p for p in [*known, *added]}
    return sorted(merged.values(), key=lambda p: p["at"])


def _derived(batch: BatchSummary, existing: _Existing, pages: list[Document]) -> dict[str, int]:
    chunks = {**((existing or {}).get("chunks") or {}), str(batch.seq): batch.event_count}
    first, last = batch.first_ts, batch.last_ts
    if existing:
        first = min(first, epoch_ms(existing["started_at"]))
        last = max(last, epoch_ms(existing["last_activity_at"]))
    return {
        "duration_ms": last - first,
        "page_count": len(pages),
        "chunk_count": len(chunks),
        "event_count": sum(chunks.values()),
    }


def _entry_and_exit(pages: list[Document]) -> dict[str, str]:
    return {"entry_url": pages[0]["url"], "exit_url": pages[-1]["url"]} if pages else {}


async def quiet_sessions(
    db: Database, *, quiet_since: datetime, limit: int = 200
) -> list[QuietSession]:
    """Sessions with raw chunks that received nothing since `quiet_since`."""
    cursor = db[COLLECTION].find(
        {"needs_compaction": True, "last_chunk_at": {"$lt": quiet_since}},
        projection={"site_id": 1, "session_id": 1, "last_chunk_at": 1},
        limit=limit,
    )
    return cast(list[QuietSession], await cursor.to_list(None))


async def mark_compacted(db: Database, session: QuietSession | SessionDocument) -> bool:
    """Clear `needs_compaction` unless a chunk arrived after `session` was read."""
    result = await db[COLLECTION].update_one(
        {"_id": session["_id"], "last_chunk_at": session["last_chunk_at"]},
        {"$set": {"needs_compaction": False, "compacted_at": datetime.now(UTC)}},
    )
    return result.modified_count == 1


def holds_compacted(session: SessionDocument | None, seq: int) -> bool:
    """Whether batch `seq` of `session` is stored in a part: resent, it is a retry."""
    ranges = session.get("compacted_seqs") if session is not None else None
    return seq_ranges.contains(ranges or [], seq)


async def note_compacted(db: Database, key: str, seqs: set[int]) -> None:
    """Remember that verified parts hold `seqs`, before their chunks are deleted.

    Only compaction calls this, under the session's lease, so reading the ranges
    and writing them back races with no other writer of the field. A session
    erased meanwhile stays erased: nothing is upserted.
    """
    session = await db[COLLECTION].find_one({"_id": key}, projection={"compacted_seqs": 1})
    if session is None or not seqs:
        return
    known = session.get("compacted_seqs") or []
    ranges = seq_ranges.merged(known, seqs)
    if ranges != known:
        await db[COLLECTION].update_one({"_id": key}, {"$set": {"compacted_seqs": ranges}})


async def _session_ids(db: Database, query: Document) -> list[str]:
    cursor = db[COLLECTION].find(query, projection={"session_id": 1})
    return [doc["session_id"] async for doc in cursor]


async def session_ids_of_visitor(db: Database, site_id: str, visitor_id: str) -> list[str]:
    return await _session_ids(db, {"site_id": site_id, "visitor_id": visitor_id})


async def session_ids_started_between(
    db: Database, site_id: str, start: datetime, end: datetime
) -> list[str]:
    return await _session_ids(db, {"site_id": site_id, "started_at": {"$gte": start, "$lt": end}})


async def session_ids_received_before(db: Database, site_id: str, cutoff: datetime) -> list[str]:
    """Sessions whose last batch reached the server before `cutoff` (retention: server time,
    whatever the client's clock said)."""
    return await _session_ids(db, {"site_id": site_id, "last_chunk_at": {"$lt": cutoff}})


async def set_rollup_pending(db: Database, key: str, pending: RollupPending) -> None:
    """Note the heatmap rollup a worker is about to apply (see workers.heatmap_rollup)."""
    await db[COLLECTION].update_one({"_id": key}, {"$set": {"heatmap_pending": pending}})


async def mark_rollup_counted(db: Database, key: str) -> None:
    await db[COLLECTION].update_one({"_id": key}, {"$set": {"heatmap_pending.counted": True}})


async def clear_rollup_pending(db: Database, key: str) -> None:
    await db[COLLECTION].update_one({"_id": key}, {"$unset": {"heatmap_pending": ""}})
