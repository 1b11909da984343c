"""Removing a site's or an account's data in bounded batches.

Every collection that holds a site's data is listed in `SITE_COLLECTIONS`, so
deleting a site cannot forget one. Deletion goes in batches of ids, so a large
site never holds the database in one long operation, and rerunning after a
crash simply continues.
"""

from storage.database import Database

BATCH_SIZE = 500

# Collections whose documents carry a `site_id`; the `sites` document itself goes last.
SITE_COLLECTIONS: list[str] = [
    "recording_chunks",
    "recording_parts",
    "events",
    "sessions",
    "visitors",
]


async def delete_in_batches(
    db: Database, collection: str, query: dict[str, object], *, batch_size: int = BATCH_SIZE
) -> int:
    removed = 0
    while True:
        cursor = db[collection].find(query, projection={"_id": 1}, limit=batch_size)
        ids = [doc["_id"] async for doc in cursor]
        if not ids:
            return removed
        result = await db[collection].delete_many({"_id": {"$in": ids}})
        removed += result.deleted_count


async def delete_site_data(db: Database, site_id: str) -> dict[str, int]:
    """Remove every document of the site, the site itself last; counts per collection."""
    counts = {}
    for collection in [*SITE_COLLECTIONS, "sites"]:
        key = "_id" if collection == "sites" else "site_id"
        counts[collection] = await delete_in_batches(db, collection, {key: site_id})
    return counts
