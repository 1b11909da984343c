"""A session's recording as stored: verified parts and raw chunks, in sequence order.

A chunk whose sequence number a verified part already holds is a leftover of
an interrupted compaction and is skipped; an unverified part is skipped too,
since its chunks are only deleted after it is verified.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from core import codec
from core.part_codec import iter_part_events
from storage import parts, recordings
from storage.database import Database
from storage.parts import PartDocument
from storage.recordings import ChunkDocument

PART_BATCH = 2000


@dataclass(frozen=True)
class Piece:
    key: str
    site_id: str
    session_id: str
    is_part: bool
    seqs: tuple[int, ...]
    has_full_snapshot: bool
    processed: bool
    first_ts: int | None = None

    @property
    def first_seq(self) -> int:
        return self.seqs[0]


def _chunk_piece(doc: ChunkDocument) -> Piece:
    return Piece(doc["_id"], doc["site_id"], doc["session_id"], False, (doc["seq"],),
                 doc.get("has_full_snapshot", False), doc.get("processed", False),
                 doc.get("first_ts"))  # fmt: skip


def _part_piece(doc: PartDocument) -> Piece:
    return Piece(doc["_id"], doc["site_id"], doc["session_id"], True, tuple(doc["seqs"]),
                 bool(doc.get("snapshot_seqs")), True)  # fmt: skip


async def list_pieces(db: Database, site_id: str, session_id: str) -> list[Piece]:
    verified = [p for p in await parts.session_parts(db, site_id, session_id) if p["verified"]]
    covered = {seq for p in verified for seq in p["seqs"]}
    chunks = [
        c
        for c in await recordings.session_chunks(db, site_id, session_id)
        if c["seq"] not in covered
    ]
    pieces = [_part_piece(p) for p in verified] + [_chunk_piece(c) for c in chunks]
    return sorted(pieces, key=lambda p: p.first_seq)


async def _part_events(db: Database, key: str) -> AsyncIterator[list[dict[str, Any]]]:
    blob = await parts.part_data(db, key)
    if blob is None:
        return
    batch: list[dict[str, Any]] = []
    for event in iter_part_events(blob):
        batch.append(event)
        if len(batch) >= PART_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _chunk_data(db: Database, pieces: list[Piece]) -> AsyncIterator[ChunkDocument]:
    """The data of the raw chunks among `pieces` (of one session), through one cursor
    rather than one query each: on a server without index-backed lookups, per-chunk
    queries cost a scan each."""
    chunks = [p for p in pieces if not p.is_part]
    sessions = {(p.site_id, p.session_id) for p in chunks}
    if len(sessions) > 1:
        raise ValueError("pieces of more than one session")
    site_id, session_id = next(iter(sessions), ("", ""))
    return recordings.iter_chunk_data(db, site_id, session_id, [p.first_seq for p in chunks])


async def pieces_events(
    db: Database, pieces: list[Piece]
) -> AsyncIterator[tuple[Piece, list[dict[str, Any]]]]:
    """The events of `pieces` (of one session, as `list_pieces` gives them), in order, in
    slices small enough to hold."""
    chunk_docs = _chunk_data(db, pieces)
    for piece in pieces:
        if piece.is_part:
            async for events in _part_events(db, piece.key):
                yield piece, events
            continue
        async for doc in chunk_docs:
            if doc["_id"] == piece.key:
                yield piece, codec.decode_events(bytes(doc["data"]))
                break


async def iter_session_events(
    db: Database, site_id: str, session_id: str
) -> AsyncIterator[list[dict[str, Any]]]:
    async for _, events in pieces_events(db, await list_pieces(db, site_id, session_id)):
        yield events


async def whole_pieces(
    db: Database, pieces: list[Piece]
) -> AsyncIterator[tuple[Piece, list[dict[str, Any]]]]:
    """Each piece with all its events (a part is at most a few tens of MB of JSON)."""
    current: Piece | None = None
    collected: list[dict[str, Any]] = []
    async for piece, events in pieces_events(db, pieces):
        if current is not None and piece is not current:
            yield current, collected
            collected = []
        current = piece
        collected.extend(events)
    if current is not None:
        yield current, collected
