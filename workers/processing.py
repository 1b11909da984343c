"""Extraction: turning a session's stored recording into autotracked events.

Each run starts from the last full snapshot at or before the first chunk not
yet processed (the DOM before it is not needed), re-derives every event from
there and upserts them by deterministic id, so a chunk processed twice yields
its events once. Clicks too close to the end of the data are decided (dead or
not) only once later data covers them, or when the session is final.
"""

from dataclasses import dataclass
from typing import Any

from core.signal_settings import SignalSettings
from storage import event_blocks, sessions, sites
from storage import events as event_store
from storage.crash_points import crash_point
from storage.database import Database, Document
from storage.ids import session_key
from storage.recording_stream import Piece, list_pieces, pieces_events
from workers import heatmap_rollup, run_commit
from workers.extraction.extractor import Extractor
from workers.heatmap_rollup import MoveSampler
from workers.leases import SessionLease, session_lease

FLUSH_EVERY = 1000
SIGNAL_KINDS = ["rage_click", "dead_click", "error_click"]


@dataclass
class ProcessingReport:
    status: str = "done"
    pieces: int = 0
    events_written: int = 0
    raw_chunks: int = 0  # the session's chunks not compacted yet, as the run listed them


def start_index(pieces: list[Piece], *, from_start: bool) -> int | None:
    """Index of the piece to start from, or None when there is nothing new."""
    if from_start:
        return 0 if pieces else None
    first_new = next((i for i, p in enumerate(pieces) if not p.processed), None)
    if first_new is None:
        return None
    snapshot = max((i for i in range(first_new + 1) if pieces[i].has_full_snapshot), default=0)
    return snapshot


def replayable(pieces: list[Piece]) -> bool:
    """A replay needs a full snapshot to start from."""
    return not pieces or pieces[0].has_full_snapshot


def integrity(pieces: list[Piece]) -> str | None:
    """Why a session cannot be replayed whole, or None."""
    if not pieces:
        return None
    seqs = sorted(seq for p in pieces for seq in p.seqs)
    missing = sorted(set(range(seqs[-1] + 1)) - set(seqs))
    if not pieces[0].has_full_snapshot:
        return "the first stored batch has no full snapshot"
    if missing:
        shown = ", ".join(str(s) for s in missing[:10])
        return f"missing batches: {shown}" + (" …" if len(missing) > 10 else "")
    return None


async def process_session(
    db: Database,
    site_id: str,
    session_id: str,
    *,
    final: bool = False,
    from_start: bool = False,
    lease: SessionLease | None = None,
) -> ProcessingReport:
    """Derive the session's events; `lease` when the caller already holds the session."""
    if lease is not None:
        return await _process(db, site_id, session_id, final=final, from_start=from_start)
    async with session_lease(db, site_id, session_id) as held:
        if held is None:
            return ProcessingReport(status="busy")
        return await _process(db, site_id, session_id, final=final, from_start=from_start)


async def _process(
    db: Database, site_id: str, session_id: str, *, final: bool, from_start: bool
) -> ProcessingReport:
    site = await sites.find_live_site(db, site_id)
    session = await sessions.find_session(db, site_id, session_id)
    if site is None or session is None:
        return ProcessingReport(status="gone")
    await run_commit.finish_interrupted(db, session)
    pieces = await list_pieces(db, site_id, session_id)
    start = start_index(pieces, from_start=from_start)
    if start is None and final and pieces:
        start = max((i for i, p in enumerate(pieces) if p.has_full_snapshot), default=0)
    report = ProcessingReport(status="nothing new")
    counts = None
    if start is not None:
        settings = SignalSettings.from_document(site.get("signals"))
        base = {"site_id": site_id, "session_id": session_id, "visitor_id": session["visitor_id"]}
        sampler = MoveSampler(site, session.get("device_type") or "unknown")
        stored = await event_store.SessionEvents.read(db, site_id, session_id)
        derived: list[Document] = []
        report = await _extract(pieces[start:], settings, base, final, sampler, stored, derived)
        await event_blocks.record_session(db, session, derived, final=final)
        new_chunks = [p.key for p in pieces[start:] if not p.is_part and not p.processed]
        run = run_commit.RunCommit(sampler.increments, new_chunks)
        heatmap_rollup.add_events(site, session, run, stored, final=final)
        await run.apply(db, session)
        counts = stored.kind_counts()
    await _summarize(db, site_id, session_id, pieces, counts)
    report.raw_chunks = sum(1 for p in pieces if not p.is_part)
    return report


async def _extract(
    pieces: list[Piece],
    settings: SignalSettings,
    base: Document,
    final: bool,
    sampler: MoveSampler,
    stored: event_store.SessionEvents,
    derived: list[Document],
) -> ProcessingReport:
    """Upserts the events derived from `pieces` into `stored`, flushing every `FLUSH_EVERY`;
    `derived` receives every one of them."""
    extractor = Extractor(settings)
    report = ProcessingReport()
    pending: list[Document] = []
    key = session_key(base["site_id"], base["session_id"])
    db = stored.db
    async for piece, events in pieces_events(db, pieces):
        sampler.feed(events, count=not piece.processed)
        pending.extend(_documents(key, base, extractor.feed(events)))
        if len(pending) >= FLUSH_EVERY:
            derived.extend(pending)
            report.events_written += await stored.upsert(pending)
            pending = []
    report.pieces = len(pieces)
    pending.extend(_documents(key, base, extractor.finish(final)))
    derived.extend(pending)
    report.events_written += await stored.upsert(pending)
    crash_point("extraction.events_written")
    return report


def _documents(key: str, base: Document, derived: list[Any]) -> list[Document]:
    return [
        event_store.event_document(
            {"_id": f"{key}:{d.key()}", **base}, d.to_document(), d.timestamp
        )
        for d in derived
    ]


async def _summarize(
    db: Database, site_id: str, session_id: str, pieces: list[Piece], counts: dict[str, int] | None
) -> None:
    """The session's summary from `counts` (the run's view of its events), or counted in the
    database when the run wrote none (a run that found nothing new still writes it: the
    run before may have died between marking its chunks and summarizing)."""
    if counts is None:
        counts = await event_store.count_session_kinds(db, site_id, session_id)
    frustration = sum(counts.get(kind, 0) for kind in SIGNAL_KINDS)
    summary = sessions.ProcessedSummary(
        click_count=counts.get("click", 0),
        rage_click_count=counts.get("rage_click", 0),
        dead_click_count=counts.get("dead_click", 0),
        error_click_count=counts.get("error_click", 0),
        error_count=counts.get("error", 0),
        frustrated=frustration > 0,
        incomplete=integrity(pieces),
        replayable=replayable(pieces),
    )
    await sessions.record_processed(db, site_id, session_id, summary)


async def recompute_signals(db: Database, site_id: str, session_id: str) -> ProcessingReport:
    """Re-derive the frustration signals of a session under the site's current settings."""
    async with session_lease(db, site_id, session_id) as held:
        if held is None:
            return ProcessingReport(status="busy")
        await event_store.delete_session_events(db, site_id, session_id, kinds=SIGNAL_KINDS)
        crash_point("recompute.signals_deleted")
        return await _process(db, site_id, session_id, final=True, from_start=True)
