"""Raw recording chunks: one document a batch, keyed by (site, session, seq).

A chunk's events are stored compressed (see `core.codec`). `processed` marks
whether the extraction worker has read the chunk; chunks not yet processed are
the worker's outbox, so nothing is lost when Redis is down at ingest time.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NotRequired, TypedDict, cast

from bson import Binary
from pymongo.errors import DuplicateKeyError

from core import codec
from core.rrweb.events import EventType
from storage.database import Database, Document
from storage.ids import chunk_key

COLLECTION = "recording_chunks"
CURSOR_BATCH = 8


@dataclass(frozen=True)
class ChunkMeta:
    site_id: str
    session_id: str
    visitor_id: str
    seq: int
    received_at: datetime  # the server's clock, which retention trusts


class ChunkDocument(TypedDict):
    """A chunk as stored; `data` is left out of `session_chunks`."""

    _id: str  # storage.ids.chunk_key(site_id, session_id, seq)
    site_id: str
    session_id: str
    visitor_id: str
    seq: int
    first_ts: int  # epoch ms, the client's clock
    last_ts: int
    event_count: int
    has_full_snapshot: bool
    size: int
    checksum: str
    data: NotRequired[bytes]  # core.codec's encoding of the events
    received_at: datetime
    processed: bool


async def insert_chunk(db: Database, meta: ChunkMeta, events: list[dict[str, Any]]) -> bool:
    """Store one batch; False when this (site, session, seq) is already stored."""
    blob = codec.encode_events(events)
    doc = {
        "_id": chunk_key(meta.site_id, meta.session_id, meta.seq),
        "site_id": meta.site_id,
        "session_id": meta.session_id,
        "visitor_id": meta.visitor_id,
        "seq": meta.seq,
        "first_ts": events[0]["timestamp"],
        "last_ts": max(e["timestamp"] for e in events),
        "event_count": len(events),
        "has_full_snapshot": any(e.get("type") == EventType.FullSnapshot for e in events),
        "size": len(blob),
        "checksum": codec.events_checksum(events),
        "data": Binary(blob),
        "received_at": meta.received_at,
        "processed": False,
    }
    try:
        await db[COLLECTION].insert_one(doc)
    except DuplicateKeyError:
        return False
    return True


async def rewrite_chunk(db: Database, key: str, events: list[dict[str, Any]]) -> None:
    """Replace a chunk's events (redacted, say) in one update, so readers see old or new."""
    blob = codec.encode_events(events)
    await db[COLLECTION].update_one(
        {"_id": key},
        {
            "$set": {
                "data": Binary(blob),
                "size": len(blob),
                "checksum": codec.events_checksum(events),
            }
        },
    )


async def session_chunks(
    db: Database, site_id: str, session_id: str, *, after_seq: int = -1
) -> list[ChunkDocument]:
    """Chunks of one session in sequence order (without their data)."""
    cursor = db[COLLECTION].find(
        {"site_id": site_id, "session_id": session_id, "seq": {"$gt": after_seq}},
        projection={"data": 0},
        sort=[("seq", 1)],
    )
    return cast(list[ChunkDocument], await cursor.to_list(None))


async def unprocessed_sessions(
    db: Database, *, received_before: datetime, limit: int = 500
) -> list[tuple[str, str]]:
    """(site, session) pairs with chunks extraction has not read yet: the outbox."""
    cursor = db[COLLECTION].find(
        {"processed": False, "received_at": {"$lt": received_before}},
        projection={"site_id": 1, "session_id": 1},
        limit=limit,
    )
    return sorted({(doc["site_id"], doc["session_id"]) async for doc in cursor})


async def has_unprocessed(db: Database, site_id: str, session_id: str) -> bool:
    """Whether the session has a chunk extraction has not read yet (equality on three
    fields, all pushed down by FerretDB)."""
    query = {"site_id": site_id, "session_id": session_id, "processed": False}
    return await db[COLLECTION].find_one(query, projection={"_id": 1}) is not None


def _of_session(site_id: str, session_id: str, seqs: list[int]) -> Document:
    """Some chunks of one session: equality on the session (the one selection FerretDB
    pushes down to PostgreSQL, and the `session_seq` index's prefix on MongoDB), the
    sequence numbers then checked on the session's few rows."""
    return {"site_id": site_id, "session_id": session_id, "seq": {"$in": seqs}}


async def mark_processed(db: Database, site_id: str, session_id: str, seqs: list[int]) -> None:
    if seqs:
        query = _of_session(site_id, session_id, seqs)
        await db[COLLECTION].update_many(query, {"$set": {"processed": True}})


async def delete_chunks(db: Database, site_id: str, session_id: str, seqs: list[int]) -> int:
    if not seqs:
        return 0
    result = await db[COLLECTION].delete_many(_of_session(site_id, session_id, seqs))
    return result.deleted_count


async def delete_orphan_chunks(
    db: Database, site_id: str, session_id: str, *, received_before: datetime
) -> int:
    """Drop the session's chunks received before `received_before`, for a session whose
    document is gone. Ingestion writes the session before its chunk, so such a chunk
    is never a write in progress: it raced its session's erasure (or was stored by an
    older version that wrote the chunk first and answered 503), and no API reaches it."""
    query = {"site_id": site_id, "session_id": session_id, "received_at": {"$lt": received_before}}
    result = await db[COLLECTION].delete_many(query)
    return result.deleted_count


async def iter_chunk_data(
    db: Database, site_id: str, session_id: str, seqs: list[int]
) -> AsyncIterator[ChunkDocument]:
    """The session's chunks `seqs` with their data, in sequence order, a few at a time."""
    if not seqs:
        return
    cursor = db[COLLECTION].find(
        _of_session(site_id, session_id, seqs), sort=[("seq", 1)], batch_size=CURSOR_BATCH
    )
    async for doc in cursor:
        yield cast(ChunkDocument, doc)
