"""Removing data in bounded batches, with exact counts that survive a crash.

What each kind of subject covers is declared once, collection by collection:
`SITE_COLLECTIONS` for a site, `SESSION_PLAN` for a session, `VISITOR_PLAN` for
what a visitor holds besides their sessions. Deletion goes in batches of ids:
before a batch is deleted its ids are written on the privacy request, and the
count is added in the same write that forgets them, so a run interrupted at
any point and run again finishes with the right count per collection.
"""

from collections.abc import Callable
from typing import Any

from pymongo import DeleteOne

from storage import event_blocks, privacy_requests
from storage.crash_points import crash_point
from storage.database import Database, Document, one_by_one
from storage.ids import session_key, visitor_key

BATCH_SIZE = 500

# Collections whose documents carry a `site_id`; the `sites` document itself goes last.
SITE_COLLECTIONS: list[str] = [
    "recording_chunks",
    "recording_parts",
    "events",
    "sessions",
    "session_buckets",
    "visitors",
    "tombstones",
    "funnels",
    "heatmap_rollups",
    "exports",
    *event_blocks.COLLECTIONS,
]

# (site id, subject id) -> the documents of one collection that hold the subject.
Scope = Callable[[str, str], Document]


def _of_session(site_id: str, session_id: str) -> Document:
    return {"site_id": site_id, "session_id": session_id}


def _of_visitor(site_id: str, visitor_id: str) -> Document:
    return {"site_id": site_id, "visitor_id": visitor_id}


# Everything of one session; the session document last, so a run interrupted
# anywhere finds the session again and finishes. An export holding the session
# goes too: it is a copy of what is erased.
SESSION_PLAN: dict[str, Scope] = {
    "recording_chunks": _of_session,
    "recording_parts": _of_session,
    "events": _of_session,
    "exports": lambda site_id, session_id: {"site_id": site_id, "session_ids": session_id},
    "sessions": lambda site_id, session_id: {"_id": session_key(site_id, session_id)},
}

# What a visitor holds besides their sessions (each erased with `SESSION_PLAN` first).
VISITOR_PLAN: dict[str, Scope] = {
    "events": _of_visitor,
    "exports": _of_visitor,
    "visitors": lambda site_id, visitor_id: {"_id": visitor_key(site_id, visitor_id)},
}

# Collections whose documents carry their own `session_id`: where a session is found
# when its session document is missing (a batch that raced its session's erasure, or
# one stored before sessions were written first), so such data is erased too.
SESSION_PIECES = ("recording_chunks", "recording_parts", "events")


class Ledger:
    """Deletes for one privacy request and keeps its per-collection counts exact."""

    def __init__(self, db: Database, request_id: str, batch_size: int = BATCH_SIZE) -> None:
        self.db, self.request_id, self.batch_size = db, request_id, batch_size

    async def resume(self) -> None:
        """Finish the batch a crashed run had recorded but maybe not counted."""
        request = await privacy_requests.find_request(self.db, self.request_id)
        pending = request.get("pending") if request is not None else None
        if pending:
            await self._delete_batch(pending["collection"], pending["ids"], recorded=True)

    async def delete(self, collection: str, query: Document) -> int:
        removed = 0
        while True:
            cursor = self.db[collection].find(query, projection={"_id": 1}, limit=self.batch_size)
            ids = [doc["_id"] async for doc in cursor]
            if not ids:
                return removed
            removed += await self._delete_batch(collection, ids)

    async def _delete_batch(
        self, collection: str, ids: list[Any], *, recorded: bool = False
    ) -> int:
        if not recorded:
            await privacy_requests.set_pending(self.db, self.request_id, collection, ids)
        # One command of `_id` equalities: FerretDB serves each from the index, while
        # `_id: {$in: …}` would decode every row of the collection.
        await self.db[collection].bulk_write([DeleteOne({"_id": i}) for i in ids], ordered=False)
        crash_point("erasure.batch_deleted")
        # The ids were listed just before: each existed, and is gone now whether this
        # run or an interrupted one deleted it.
        await privacy_requests.settle_pending(self.db, self.request_id, collection, len(ids))
        return len(ids)


async def delete_session_data(ledger: Ledger, site_id: str, session_id: str) -> None:
    """Every document of one session (the session itself last); its funnel rows first,
    out of the day blocks they share with other sessions."""
    await event_blocks.erase_sessions(ledger.db, site_id, [session_id])
    for collection, scope in SESSION_PLAN.items():
        await ledger.delete(collection, scope(site_id, session_id))


async def delete_visitor_data(ledger: Ledger, site_id: str, visitor_id: str) -> None:
    """What the visitor holds besides their sessions (the visitor itself last)."""
    for collection, scope in VISITOR_PLAN.items():
        await ledger.delete(collection, scope(site_id, visitor_id))


async def orphan_session_ids(db: Database, site_id: str, queries: dict[str, Document]) -> list[str]:
    """Sessions that documents of `SESSION_PIECES` matching `queries` belong to, and
    that have no session document."""
    found: set[str] = set()
    for collection in SESSION_PIECES:
        query = {"site_id": site_id, **queries[collection]}
        found.update(await db[collection].distinct("session_id", query))
    ordered = sorted(found)
    sessions = await one_by_one(
        db["sessions"].find_one({"_id": session_key(site_id, s)}, {"_id": 1}) for s in ordered
    )
    return [session_id for session_id, doc in zip(ordered, sessions, strict=True) if doc is None]


async def delete_site_data(ledger: Ledger, site_id: str) -> None:
    """Every document of the site, the site itself last."""
    for collection in SITE_COLLECTIONS:
        await ledger.delete(collection, {"site_id": site_id})
    await ledger.delete("sites", {"_id": site_id})
