"""Tombstones: what was erased must not come back.

A tombstone is a keyed hash of an erased visitor or session (never the
identifier itself). Ingestion checks it before starting a session, so a
browser that keeps sending after an erasure does not recreate what was
removed; workers find no session and write nothing.
"""

import asyncio
from datetime import UTC, datetime

from core.credentials import keyed_hash
from storage.database import Database

COLLECTION = "tombstones"


def visitor_mark(secret_key: bytes, site_id: str, visitor_id: str) -> str:
    return "visitor:" + keyed_hash(secret_key, f"{site_id}:{visitor_id}")


def session_mark(secret_key: bytes, site_id: str, session_id: str) -> str:
    return "session:" + keyed_hash(secret_key, f"{site_id}:{session_id}")


async def bury(db: Database, mark: str, *, site_id: str, request_id: str) -> None:
    await db[COLLECTION].update_one(
        {"_id": mark},
        {"$setOnInsert": {"site_id": site_id, "request_id": request_id, "at": datetime.now(UTC)}},
        upsert=True,
    )


async def any_buried(db: Database, marks: list[str]) -> bool:
    """Whether any of `marks` is buried: one `_id` lookup each, all at once."""
    found = await asyncio.gather(
        *(db[COLLECTION].find_one({"_id": mark}, projection={"_id": 1}) for mark in marks)
    )
    return any(doc is not None for doc in found)
