"""Compacted recording parts: a session's chunks merged into a few large blobs.

A part lists the chunk sequence numbers it holds and the count and checksum
of its events, computed from the chunks while it was written. A part is
`verified` only after it has been read back and matched those figures; only
then may the chunks it holds be deleted.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict, cast

from bson import Binary

from storage.database import Database

COLLECTION = "recording_parts"


class PartDocument(TypedDict):
    """A part as stored; `data` is left out of `session_parts`."""

    _id: str  # part_key(session key, first_seq, last_seq)
    site_id: str
    session_id: str
    visitor_id: str
    first_seq: int
    last_seq: int
    seqs: list[int]
    snapshot_seqs: list[int]  # the chunks with a full snapshot
    event_count: int
    checksum: str
    raw_size: int
    first_ts: int  # epoch ms, the client's clock
    received_at: datetime  # the server's clock, the latest of its chunks
    size: int
    data: NotRequired[bytes]  # core.part_codec's encoding of the events
    verified: bool
    created_at: datetime


@dataclass(frozen=True)
class PartFigures:
    """What a part's blob must hold: compared with what reading the blob back gives."""

    event_count: int
    checksum: str

    @classmethod
    def of(cls, part: Mapping[str, Any]) -> "PartFigures":
        return cls(part["event_count"], part["checksum"])


def part_key(session_key: str, first_seq: int, last_seq: int) -> str:
    return f"{session_key}:p{first_seq:010d}-{last_seq:010d}"


async def write_part(
    db: Database,
    *,
    key: str,
    site_id: str,
    session_id: str,
    visitor_id: str,
    seqs: list[int],
    snapshot_seqs: list[int],
    event_count: int,
    checksum: str,
    raw_size: int,
    blob: bytes,
    first_ts: int,
    received_at: datetime,
) -> None:
    """Store an unverified part (replacing a half-written one with the same key).

    `first_ts` (the client's clock) and `received_at` (the server's, the latest of its
    chunks) let erasure and retention find the part by its own time."""
    doc = {
        "_id": key,
        "site_id": site_id,
        "session_id": session_id,
        "visitor_id": visitor_id,
        "first_seq": seqs[0],
        "last_seq": seqs[-1],
        "seqs": seqs,
        "snapshot_seqs": snapshot_seqs,
        "event_count": event_count,
        "checksum": checksum,
        "raw_size": raw_size,
        "first_ts": first_ts,
        "received_at": received_at,
        "size": len(blob),
        "data": Binary(blob),
        "verified": False,
        "created_at": datetime.now(UTC),
    }
    await db[COLLECTION].replace_one({"_id": key}, doc, upsert=True)


async def rewrite_part(
    db: Database, key: str, *, blob: bytes, checksum: str, event_count: int, raw_size: int
) -> None:
    """Replace a part's blob (redacted, say) and its figures in one update (atomic)."""
    await db[COLLECTION].update_one(
        {"_id": key},
        {
            "$set": {
                "data": Binary(blob),
                "size": len(blob),
                "checksum": checksum,
                "event_count": event_count,
                "raw_size": raw_size,
            }
        },
    )


async def stored_figures(db: Database, key: str) -> PartFigures | None:
    """The figures stored with a part, or None when it is missing."""
    doc = await db[COLLECTION].find_one({"_id": key}, projection={"event_count": 1, "checksum": 1})
    return PartFigures.of(doc) if doc is not None else None


async def mark_verified(db: Database, key: str) -> None:
    await db[COLLECTION].update_one({"_id": key}, {"$set": {"verified": True}})


async def delete_part(db: Database, key: str) -> None:
    await db[COLLECTION].delete_one({"_id": key})


async def session_parts(db: Database, site_id: str, session_id: str) -> list[PartDocument]:
    """The session's parts without their data, in sequence order."""
    cursor = db[COLLECTION].find(
        {"site_id": site_id, "session_id": session_id},
        projection={"data": 0},
        sort=[("first_seq", 1)],
    )
    return cast(list[PartDocument], await cursor.to_list(None))


async def part_data(db: Database, key: str) -> bytes | None:
    doc = await db[COLLECTION].find_one({"_id": key}, projection={"data": 1})
    return bytes(doc["data"]) if doc else None
