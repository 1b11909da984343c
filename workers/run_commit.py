"""What one processing run records, written as one step a killed worker cannot half-do.

A run first works everything out in memory: the heatmap counts of its new clicks,
scrolls and mouse moves, the derived events those counts came from, and the chunks it
processed for the first time. `RunCommit.apply` then records them together: the whole
commit is stored on the session (`heatmap_pending`), counted under a fresh token
(`heatmaps.apply_once`, so a repeat adds nothing), and only then are its events marked
`rolled_up` and its chunks `processed`. The next run on the session finishes a commit a
dead worker left (`finish_interrupted`), so nothing is counted twice or marked uncounted.
"""

import uuid
from dataclasses import dataclass, field

from storage import events as event_store
from storage import heatmaps, recordings, sessions
from storage.crash_points import crash_point
from storage.database import Database
from storage.ids import seq_of_chunk_key
from storage.sessions import RollupPending, SessionDocument


@dataclass
class RunCommit:
    """What one processing run adds to the heatmaps, and the marks that say it was added."""

    increments: heatmaps.Increments
    chunk_ids: list[str]  # chunks processed for the first time
    event_ids: list[str] = field(default_factory=list)  # derived events counted

    async def apply(self, db: Database, session: SessionDocument) -> None:
        """Record the run exactly once, even when the worker dies at any point of this."""
        if not (self.increments or self.event_ids or self.chunk_ids):
            return
        pending: RollupPending = {
            "token": uuid.uuid4().hex,
            "buckets": heatmaps.to_document(self.increments),
            "events": self.event_ids,
            "chunks": self.chunk_ids,
            "counted": False,
        }
        await sessions.set_rollup_pending(db, session["_id"], pending)
        await _finish(db, session, pending)


async def finish_interrupted(db: Database, session: SessionDocument) -> None:
    """Finish the commit a worker that died left on the session (under its lease)."""
    pending = session.get("heatmap_pending")
    if pending:
        await _finish(db, session, pending)


async def _finish(db: Database, session: SessionDocument, pending: RollupPending) -> None:
    increments = heatmaps.from_document(pending["buckets"])
    key, site_id = session["_id"], session["site_id"]
    if not pending["counted"]:
        await heatmaps.apply_once(db, pending["token"], increments)
        crash_point("heatmaps.counted")
        session_id = session["session_id"]
        await event_store.mark_rolled_up(db, site_id, session_id, pending["events"])
        seqs = [seq_of_chunk_key(chunk) for chunk in pending["chunks"]]
        await recordings.mark_processed(db, site_id, session_id, seqs)
        await sessions.mark_rollup_counted(db, key)
    await heatmaps.forget(db, pending["token"], list(increments.by_bucket))
    await sessions.clear_rollup_pending(db, key)
