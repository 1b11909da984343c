"""Compaction: merging a session's raw chunks into a few verified zstd parts.

Order of work, each step safe to repeat after a crash:
1. finish what an interrupted run left: verify unverified parts (or delete them
   when they do not match what they were written from), then delete chunks a
   verified part already holds;
2. stream the remaining chunks, in sequence order, into parts of bounded size;
3. for each part: write it unverified, read it back and compare the event count
   and checksum, mark it verified, note its seqs on the session (the chunks'
   keys turned resent batches away; the note does from now on), and only then
   delete its chunks.
One worker at a time works on a session (its lease, see workers.leases), so two
workers given the same session do the work once.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from core import codec
from core.logs import get_logger
from core.part_codec import PartWriter, checksum_of, iter_part_events
from storage import parts, recordings, sessions
from storage.crash_points import crash_point
from storage.database import Database
from storage.ids import session_key
from storage.recordings import ChunkDocument
from workers.leases import DEFAULT_LEASE, SessionLease, session_lease

log = get_logger(__name__)

PART_MAX_RAW = 32 * 2**20


@dataclass(frozen=True)
class CompactionLimits:
    part_bytes: int = 4 * 2**20  # compressed size at which a part is closed
    lease: timedelta = DEFAULT_LEASE


@dataclass
class CompactionReport:
    status: str = "done"
    parts_written: int = 0
    chunks_removed: int = 0
    events: int = 0
    part_keys: list[str] = field(default_factory=list)


async def compact_session(
    db: Database,
    site_id: str,
    session_id: str,
    *,
    only_processed: bool = False,
    limits: CompactionLimits = CompactionLimits(),
    lease: SessionLease | None = None,
) -> CompactionReport:
    """Compact the session; `lease` when the caller already holds the session's lease."""
    if lease is not None:
        return await _compact_session(db, site_id, session_id, only_processed, limits, lease)
    async with session_lease(db, site_id, session_id, limits.lease) as held:
        if held is None:
            return CompactionReport(status="busy")
        return await _compact_session(db, site_id, session_id, only_processed, limits, held)


async def _compact_session(
    db: Database,
    site_id: str,
    session_id: str,
    only_processed: bool,
    limits: CompactionLimits,
    lease: SessionLease,
) -> CompactionReport:
    key = session_key(site_id, session_id)
    report = CompactionReport()
    covered = await _finish_interrupted(db, site_id, session_id)
    await sessions.note_compacted(db, key, covered)
    report.chunks_removed += await _delete_chunks(db, site_id, session_id, covered)
    stored = await recordings.session_chunks(db, site_id, session_id)
    chunks = [c for c in stored if c["seq"] not in covered]
    if only_processed:
        chunks = [c for c in chunks if c.get("processed")]
    await _compact(db, key, chunks, report, lease, limits)
    return report


async def _finish_interrupted(db: Database, site_id: str, session_id: str) -> set[int]:
    """Verify or drop parts an interrupted run left; the chunk seqs verified parts hold."""
    covered: set[int] = set()
    for part in await parts.session_parts(db, site_id, session_id):
        if not part["verified"]:
            if await _matches(db, part["_id"], parts.PartFigures.of(part)):
                await parts.mark_verified(db, part["_id"])
            else:
                log.warning("compaction.dropped_unverified_part", part=part["_id"])
                await parts.delete_part(db, part["_id"])
                continue
        covered.update(part["seqs"])
    return covered


async def _matches(db: Database, part_id: str, expected: parts.PartFigures) -> bool:
    blob = await parts.part_data(db, part_id)
    if blob is None:
        return False
    try:
        count, checksum = checksum_of(iter_part_events(blob))
    except Exception:  # a truncated or corrupt blob is simply not a match
        return False
    return bool(count == expected.event_count and checksum == expected.checksum)


async def _delete_chunks(db: Database, site_id: str, session_id: str, seqs: set[int]) -> int:
    if not seqs:
        return 0
    return await recordings.delete_chunks(db, site_id, session_id, sorted(seqs))


async def _compact(
    db: Database,
    key: str,
    chunks: list[ChunkDocument],
    report: CompactionReport,
    lease: SessionLease,
    limits: CompactionLimits,
) -> None:
    if not chunks:
        return
    writer, members, snapshots = PartWriter(), [], []
    site_id, session_id = chunks[0]["site_id"], chunks[0]["session_id"]
    seqs = [c["seq"] for c in chunks]
    async for chunk in recordings.iter_chunk_data(db, site_id, session_id, seqs):
        for event in codec.decode_events(bytes(chunk["data"])):
            writer.add(event)
        writer.flush()
        del chunk["data"]
        members.append(chunk)
        if chunk.get("has_full_snapshot"):
            snapshots.append(chunk["seq"])
        await lease.keep()
        if writer.compressed_size >= limits.part_bytes or writer.raw_size >= PART_MAX_RAW:
            await _store(db, key, writer, members, snapshots, report)
            writer, members, snapshots = PartWriter(), [], []
    if members:
        await _store(db, key, writer, members, snapshots, report)


async def _store(
    db: Database,
    key: str,
    writer: PartWriter,
    members: list[ChunkDocument],
    snapshots: list[int],
    report: CompactionReport,
) -> None:
    seqs = [c["seq"] for c in members]
    part_id = parts.part_key(key, seqs[0], seqs[-1])
    first = members[0]
    await parts.write_part(
        db,
        key=part_id,
        site_id=first["site_id"],
        session_id=first["session_id"],
        visitor_id=first["visitor_id"],
        seqs=seqs,
        snapshot_seqs=snapshots,
        event_count=writer.event_count,
        checksum=writer.checksum,
        raw_size=writer.raw_size,
        blob=writer.finish(),
        first_ts=min(c["first_ts"] for c in members),
        received_at=max(c["received_at"] for c in members),
    )
    stored = await parts.stored_figures(db, part_id)
    if stored is None or not await _matches(db, part_id, stored):
        await parts.delete_part(db, part_id)
        raise RuntimeError(f"part {part_id} did not verify; its chunks are kept")
    await parts.mark_verified(db, part_id)
    await sessions.note_compacted(db, key, set(seqs))
    crash_point("compaction.part_verified")
    removed = await recordings.delete_chunks(db, first["site_id"], first["session_id"], seqs)
    report.parts_written += 1
    report.chunks_removed += removed
    report.events += writer.event_count
    report.part_keys.append(part_id)
