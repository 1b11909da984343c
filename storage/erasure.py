"""Removing data in bounded batches, with exact counts that survive a crash.

Every collection that holds a site's data is listed in `SITE_COLLECTIONS`, so
deleting a site cannot forget one. Deletion goes in batches of ids: before a
batch is deleted its ids are written on the privacy request, and the count is
added in the same write that forgets them, so a run interrupted at any point
and run again finishes with the right count per collection.
"""

from typing import Any

from storage import privacy_requests
from storage.crash_points import crash_point
from storage.database import Database, Document
from storage.ids import session_key

BATCH_SIZE = 500

# Collections whose documents carry a `site_id`; the `sites` document itself goes last.
SITE_COLLECTIONS: list[str] = [
    "recording_chunks",
    "recording_parts",
    "events",
    "sessions",
    "visitors",
    "tombstones",
    "funnels",
    "heatmap_rollups",
    "exports",
]


class Ledger:
    """Deletes for one privacy request and keeps its per-collection counts exact."""

    def __init__(self, db: Database, request_id: str, batch_size: int = BATCH_SIZE) -> None:
        self.db, self.request_id, self.batch_size = db, request_id, batch_size

    async def resume(self) -> None:
        """Finish the batch a crashed run had recorded but maybe not counted."""
        request = await privacy_requests.find_request(self.db, self.request_id)
        pending = (request or {}).get("pending")
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
        await self.db[collection].delete_many({"_id": {"$in": ids}})
        crash_point("erasure.batch_deleted")
        # The ids were listed just before: each existed, and is gone now whether this
        # run or an interrupted one deleted it.
        await privacy_requests.settle_pending(self.db, self.request_id, collection, len(ids))
        return len(ids)


async def delete_session_data(ledger: Ledger, site_id: str, session_id: str) -> None:
    """Every document of one session (the session itself last)."""
    scope = {"site_id": site_id, "session_id": session_id}
    for collection in ("recording_chunks", "recording_parts", "events"):
        await ledger.delete(collection, scope)
    await ledger.delete("sessions", {"_id": session_key(site_id, session_id)})


async def delete_site_data(ledger: Ledger, site_id: str) -> None:
    """Every document of the site, the site itself last."""
    for collection in SITE_COLLECTIONS:
        await ledger.delete(collection, {"site_id": site_id})
    await ledger.delete("sites", {"_id": site_id})
