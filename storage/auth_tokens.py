"""Login tokens, stored only as the SHA-256 of the token."""

from datetime import UTC, datetime, timedelta
from typing import TypedDict, cast

from storage.database import Database, Document

COLLECTION = "auth_tokens"


class TokenDocument(TypedDict):
    """A login token as stored."""

    _id: str  # SHA-256 of the token
    account_id: str
    created_at: datetime
    expires_at: datetime


async def create_token(
    db: Database, *, token_hash: str, account_id: str, lifetime: timedelta
) -> datetime:
    now = datetime.now(UTC)
    expires_at = now + lifetime
    # Expiry is checked on every lookup; this only keeps dead tokens from piling up (no TTL
    # index: FerretDB has no TTL monitor, and indexes use what both engines support).
    await db[COLLECTION].delete_many({"account_id": account_id, "expires_at": {"$lte": now}})
    await db[COLLECTION].insert_one(
        {"_id": token_hash, "account_id": account_id, "created_at": now, "expires_at": expires_at}
    )
    return expires_at


async def find_valid_token(db: Database, token_hash: str) -> TokenDocument | None:
    # `_id` alone, the expiry checked here: the `_id` index serves it on MongoDB as it would
    # with the expiry, and FerretDB pushes down nothing else (it would scan every token).
    token = cast(TokenDocument | None, await db[COLLECTION].find_one({"_id": token_hash}))
    if token is None or token["expires_at"] <= datetime.now(UTC):
        return None
    return token


async def revoke_token(db: Database, token_hash: str) -> None:
    await db[COLLECTION].delete_one({"_id": token_hash})


async def revoke_all_tokens(
    db: Database, account_id: str, *, except_hash: str | None = None
) -> int:
    query: Document = {"account_id": account_id}
    if except_hash is not None:
        query["_id"] = {"$ne": except_hash}
    result = await db[COLLECTION].delete_many(query)
    return result.deleted_count
