"""Migration step: the start hour (and its markers) for sessions written before they existed.

Idempotent: the hour is derived from the session's own `started_at` and written
with `$min`, the operator ingestion uses for it, so a batch done twice, or beside
live ingestion moving a session's start earlier, leaves the same value; markers
are insert-only (storage.session_buckets).
"""

from pymongo import UpdateOne

from core.epoch import epoch_ms
from storage import session_buckets
from storage.database import Database, Document

STEP = "session_start_buckets"
COLLECTION = "sessions"
PROJECTION: Document = {"site_id": 1, "started_at": 1, session_buckets.FIELD: 1}


async def apply(db: Database, sessions: list[Document]) -> None:
    updates = []
    for session in sessions:
        if session.get(session_buckets.FIELD) is not None or "started_at" not in session:
            continue
        bucket = session_buckets.bucket_of(epoch_ms(session["started_at"]))
        await session_buckets.mark(db, session["site_id"], bucket)
        updates.append(
            UpdateOne({"_id": session["_id"]}, {"$min": {session_buckets.FIELD: bucket}})
        )
    if updates:
        await db[COLLECTION].bulk_write(updates, ordered=False)
