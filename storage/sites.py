"""Sites: the websites an account records, with their privacy settings."""

import secrets
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument

from storage.database import Database, Document
from storage.ids import new_id

COLLECTION = "sites"
TRACKING_KEY_PREFIX = "slk_"

DEFAULT_PRIVACY: Document = {
    "record_inputs": False,
    "mask_selectors": [],
    "block_selectors": [],
    "anonymize_ip": True,
    "respect_do_not_track": True,
    "retention_days": 30,
}


def new_tracking_key() -> str:
    return TRACKING_KEY_PREFIX + secrets.token_urlsafe(18)


def _live(query: Document) -> Document:
    return {**query, "deleted_at": None}


async def create_site(db: Database, *, account_id: str, name: str, domains: list[str]) -> Document:
    now = datetime.now(UTC)
    site = {
        "_id": new_id(),
        "account_id": account_id,
        "name": name,
        "domains": domains,
        "tracking_key": new_tracking_key(),
        "privacy": dict(DEFAULT_PRIVACY),
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
    }
    await db[COLLECTION].insert_one(site)
    return site


async def find_owned_site(db: Database, account_id: str, site_id: str) -> Document | None:
    return await db[COLLECTION].find_one(_live({"_id": site_id, "account_id": account_id}))


async def list_owned_sites(
    db: Database, account_id: str, only: frozenset[str] | None = None, *, limit: int = 1000
) -> list[Document]:
    query: Document = _live({"account_id": account_id})
    if only is not None:
        query["_id"] = {"$in": sorted(only)}
    cursor = db[COLLECTION].find(query, sort=[("_id", 1)], limit=limit)
    return await cursor.to_list(None)


async def owned_site_ids(db: Database, account_id: str, site_ids: list[str]) -> set[str]:
    cursor = db[COLLECTION].find(
        _live({"_id": {"$in": site_ids}, "account_id": account_id}), projection={"_id": 1}
    )
    return {doc["_id"] async for doc in cursor}


async def find_by_tracking_key(db: Database, tracking_key: str) -> Document | None:
    return await db[COLLECTION].find_one(_live({"tracking_key": tracking_key}))


async def update_site(db: Database, site_id: str, changes: dict[str, Any]) -> Document | None:
    return await db[COLLECTION].find_one_and_update(
        _live({"_id": site_id}),
        {"$set": {**changes, "updated_at": datetime.now(UTC)}},
        return_document=ReturnDocument.AFTER,
    )


async def rotate_tracking_key(db: Database, site_id: str) -> Document | None:
    return await update_site(db, site_id, {"tracking_key": new_tracking_key()})


async def mark_deleted(db: Database, site_id: str) -> bool:
    result = await db[COLLECTION].update_one(
        _live({"_id": site_id}), {"$set": {"deleted_at": datetime.now(UTC)}}
    )
    return result.modified_count == 1


async def site_ids_of_account(db: Database, account_id: str) -> list[str]:
    cursor = db[COLLECTION].find({"account_id": account_id}, projection={"_id": 1})
    return [doc["_id"] async for doc in cursor]


async def find_live_site(db: Database, site_id: str) -> Document | None:
    return await db[COLLECTION].find_one(_live({"_id": site_id}))


async def is_live(db: Database, site_id: str) -> bool:
    """Whether the site exists and is not being deleted."""
    return await db[COLLECTION].find_one(_live({"_id": site_id}), projection={"_id": 1}) is not None


async def all_live_sites(db: Database) -> list[Document]:
    cursor = db[COLLECTION].find({"deleted_at": None}, projection={"privacy": 1})
    return await cursor.to_list(None)
