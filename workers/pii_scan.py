"""Scanning stored recordings for personal data, and redacting it in place.

Raw chunks and compacted parts of the sessions started in a range are read
event by event. Findings are reported by session, event index within the
session and kind, never with the value. With `redact`, a chunk or part that
had findings is rewritten as one document replacement (atomic), under the
session's lease, so a crash leaves either the old or the new version.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from core import pii
from core.part_codec import PartWriter
from storage import parts, recordings, sessions
from storage.crash_points import crash_point
from storage.database import Database, Document
from storage.recording_stream import Piece, list_pieces, whole_pieces
from workers.leases import session_lease

MAX_FINDINGS = 1000


Checkpoint = Callable[[Document], Awaitable[None]]


async def scan_site(
    db: Database,
    site_id: str,
    start: datetime,
    end: datetime,
    *,
    redact: bool,
    resume: Document | None = None,
    checkpoint: Checkpoint | None = None,
) -> Document:
    """Scan (and redact) the sessions started in a range; the report of findings.

    Each session is first scanned whole and its findings saved through
    `checkpoint`, and only then redacted: a run resumed from the last checkpoint
    after a crash reports what was found before any redaction, once.
    """
    progress = resume or {"report": _empty_report(), "scanned": []}
    report: Document = progress["report"]
    scanned: list[str] = progress["scanned"]
    for session_id in await sessions.session_ids_started_between(db, site_id, start, end):
        async with session_lease(db, site_id, session_id) as lease:
            if lease is None:
                if session_id not in report["skipped_busy"]:
                    report["skipped_busy"].append(session_id)
                continue
            if session_id not in scanned:
                await _scan_session(db, site_id, session_id, redact, report)
                report["sessions_scanned"] += 1
                scanned.append(session_id)
                if checkpoint is not None:
                    await checkpoint(progress)
            if redact:
                await _redact_session(db, site_id, session_id)
    return report


def _empty_report() -> Document:
    return {
        "sessions_scanned": 0,
        "events_scanned": 0,
        "counts": {},
        "findings": [],
        "redacted_pieces": 0,
        "skipped_busy": [],
    }


async def _scan_session(
    db: Database, site_id: str, session_id: str, redact: bool, report: Document
) -> None:
    index = 0
    async for _, events in whole_pieces(db, await list_pieces(db, site_id, session_id)):
        found = False
        for event in events:
            kinds = pii.scan(event)
            if kinds:
                found = True
                _record(report, session_id, index, kinds)
            index += 1
        if redact and found:
            report["redacted_pieces"] += 1
    report["events_scanned"] += index


async def _redact_session(db: Database, site_id: str, session_id: str) -> None:
    """Rewrite each piece holding personal data; pieces already clean are left alone."""
    async for piece, events in whole_pieces(db, await list_pieces(db, site_id, session_id)):
        findings = [bool(pii.scan(event)) for event in events]
        if any(findings):
            cleaned = [pii.redact(e) if f else e for e, f in zip(events, findings, strict=True)]
            await _rewrite(db, piece, cleaned)
            crash_point("pii_scan.piece_redacted")


def _record(report: Document, session_id: str, index: int, kinds: list[str]) -> None:
    for kind in kinds:
        report["counts"][kind] = report["counts"].get(kind, 0) + 1
        if len(report["findings"]) < MAX_FINDINGS:
            report["findings"].append(
                {"session_id": session_id, "event_index": index, "kind": kind}
            )


async def _rewrite(db: Database, piece: Piece, events: list[dict[str, Any]]) -> None:
    if not piece.is_part:
        await recordings.rewrite_chunk(db, piece.key, events)
        return
    writer = PartWriter()
    for event in events:
        writer.add(event)
    blob = writer.finish()
    await parts.rewrite_part(
        db,
        piece.key,
        blob=blob,
        checksum=writer.checksum,
        event_count=writer.event_count,
        raw_size=writer.raw_size,
    )
