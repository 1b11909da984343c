"""Every collection's indexes, created idempotently at start-up.

Only options that both MongoDB and FerretDB 1.24 accept are used here: no
partial, sparse or TTL indexes (retention is enforced by a worker job).
"""

from pymongo import DESCENDING, IndexModel

from storage.database import Database

INDEXES: dict[str, list[IndexModel]] = {
    "worker_heartbeats": [IndexModel([("at", DESCENDING)], name="at_desc")],
}


async def ensure_indexes(db: Database) -> None:
    """Create every index that is missing; existing ones are left as they are."""
    for collection, models in INDEXES.items():
        await db[collection].create_indexes(models)
