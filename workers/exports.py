"""Right of access: everything stored about one visitor, as one JSON document.

The document holds the visitor record, each session's metadata, the events
derived from it, and its recording as rrweb events (so the export stands on
its own, with no link that expires). It is written as a stream of zstd
slices, so a visitor with long recordings never sits in memory whole.
"""

import io
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import zstandard

from storage import events as event_store
from storage import exports, sessions, visitors
from storage.crash_points import crash_point
from storage.database import Database, Document
from storage.recording_stream import iter_session_events

FORMAT = "sightline-visitor-export/1"
SLICE_BYTES = 8 * 2**20
_HIDDEN = {"privacy_state", "chunks", "needs_compaction", "last_chunk_at", "ip", "heatmap_pending"}


class SlicedWriter:
    """Writes JSON text into zstd slices stored as export documents."""

    def __init__(self, db: Database, request_id: str, subject: exports.Subject) -> None:
        self.db, self.request_id, self.subject = db, request_id, subject
        self.index, self.bytes_written = 0, 0
        self._start()

    def _start(self) -> None:
        self._buffer = io.BytesIO()
        self._stream = zstandard.ZstdCompressor(level=3).stream_writer(self._buffer, closefd=False)

    async def write(self, text: bytes) -> None:
        self._stream.write(text)
        self.bytes_written += len(text)
        if self._buffer.tell() >= SLICE_BYTES:
            await self._store()
            self._start()

    async def close(self) -> None:
        await self._store()

    async def _store(self) -> None:
        self._stream.close()  # type: ignore[no-untyped-call]
        blob = self._buffer.getvalue()
        await exports.store_slice(
            self.db, request_id=self.request_id, subject=self.subject, index=self.index, blob=blob
        )
        crash_point("export.slice_stored")
        self.index += 1


def _public(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in _HIDDEN}


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=str)


async def export_visitor(
    db: Database, request_id: str, site_id: str, visitor_id: str, session_ids: list[str]
) -> Document:
    """Write the export of the visitor and of `session_ids`, their sessions."""
    writer = SlicedWriter(db, request_id, exports.Subject(site_id, visitor_id, session_ids))
    header = {
        "format": FORMAT,
        "site_id": site_id,
        "visitor_id": visitor_id,
        "generated_at": datetime.now(UTC),
    }
    visitor = await visitors.find_visitor(db, site_id, visitor_id)
    await writer.write(
        b'{"export":'
        + _dumps(header)
        + b',"visitor":'
        + _dumps(_public(visitor) if visitor else None)
        + b',"sessions":['
    )
    counts = {"sessions": 0, "events": 0, "recording_events": 0}
    for n, session_id in enumerate(session_ids):
        await writer.write(b"," if n else b"")
        await _write_session(db, writer, site_id, session_id, counts)
    await writer.write(b"]}")
    await writer.close()
    return {"slices": writer.index, "bytes": writer.bytes_written, **counts}


async def _write_session(
    db: Database, writer: SlicedWriter, site_id: str, session_id: str, counts: dict[str, int]
) -> None:
    session = await sessions.find_session(db, site_id, session_id)
    await writer.write(b'{"session":' + _dumps(_public(session or {})) + b',"events":')
    derived = await event_store.search_events(
        db, site_id, event_store.EventFilter(session_id=session_id), limit=100_000
    )
    await writer.write(_dumps([_public(e) for e in reversed(derived)]) + b',"recording":[')
    first = True
    async for events in iter_session_events(db, site_id, session_id):
        for event in events:
            await writer.write((b"" if first else b",") + _dumps(event))
            first = False
            counts["recording_events"] += 1
    await writer.write(b"]}")
    counts["sessions"] += 1
    counts["events"] += len(derived)
