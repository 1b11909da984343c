"""API keys for integrations, stored only as the SHA-256 of the key."""

from datetime import UTC, datetime, timedelta
from typing import TypedDict, cast

from storage.database import Database
from storage.ids import new_id

COLLECTION = "api_keys"
LAST_USED_RESOLUTION = timedelta(hours=1)


class ApiKeyDocument(TypedDict):
    """An API key as stored."""

    _id: str
    account_id: str
    name: str
    key_hash: str  # SHA-256 of the key (core.credentials.digest); unique
    hint: str
    scopes: list[str]  # service.scopes.Scope values
    site_ids: list[str] | None  # None: every site of the account
    created_at: datetime
    last_used_at: datetime | None


async def create_api_key(
    db: Database,
    *,
    account_id: str,
    name: str,
    key_hash: str,
    hint: str,
    scopes: list[str],
    site_ids: list[str] | None,
) -> ApiKeyDocument:
    key: ApiKeyDocument = {
        "_id": new_id(),
        "account_id": account_id,
        "name": name,
        "key_hash": key_hash,
        "hint": hint,
        "scopes": scopes,
        "site_ids": site_ids,
        "created_at": datetime.now(UTC),
        "last_used_at": None,
    }
    await db[COLLECTION].insert_one(dict(key))
    return key


async def find_by_hash(db: Database, key_hash: str) -> ApiKeyDocument | None:
    return cast(ApiKeyDocument | None, await db[COLLECTION].find_one({"key_hash": key_hash}))


async def list_api_keys(db: Database, account_id: str) -> list[ApiKeyDocument]:
    cursor = db[COLLECTION].find({"account_id": account_id}, sort=[("_id", 1)], limit=1000)
    return cast(list[ApiKeyDocument], await cursor.to_list(None))


async def revoke_api_key(db: Database, *, account_id: str, key_id: str) -> bool:
    result = await db[COLLECTION].delete_one({"_id": key_id, "account_id": account_id})
    return result.deleted_count == 1


async def delete_account_keys(db: Database, account_id: str) -> int:
    result = await db[COLLECTION].delete_many({"account_id": account_id})
    return result.deleted_count


def last_use_is_stale(last_used_at: datetime | None) -> bool:
    return last_used_at is None or datetime.now(UTC) - last_used_at >= LAST_USED_RESOLUTION


async def touch_last_used(db: Database, key_id: str, *, now: datetime | None = None) -> bool:
    """Record use at most once per `LAST_USED_RESOLUTION`; True when it wrote."""
    now = now or datetime.now(UTC)
    result = await db[COLLECTION].update_one(
        {
            "_id": key_id,
            "$or": [
                {"last_used_at": None},
                {"last_used_at": {"$lt": now - LAST_USED_RESOLUTION}},
            ],
        },
        {"$set": {"last_used_at": now}},
    )
    return result.modified_count == 1
