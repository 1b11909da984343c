"""Accounts: the people who sign in to Sightline."""

from datetime import UTC, datetime
from typing import TypedDict, cast

from pymongo.errors import DuplicateKeyError

from storage import engine
from storage.database import Database
from storage.ids import new_id

COLLECTION = "accounts"


class AccountDocument(TypedDict):
    """An account as stored."""

    _id: str
    email: str  # normalised (graph.accounts.normalize_email); unique
    name: str
    password_hash: str  # argon2 (core.passwords)
    created_at: datetime
    updated_at: datetime


class EmailTaken(Exception):
    """Another account already uses this email address."""


async def create_account(
    db: Database, *, email: str, name: str, password_hash: str
) -> AccountDocument:
    now = datetime.now(UTC)
    account: AccountDocument = {
        "_id": new_id(),
        "email": email,
        "name": name,
        "password_hash": password_hash,
        "created_at": now,
        "updated_at": now,
    }
    try:
        await db[COLLECTION].insert_one(dict(account))
    except DuplicateKeyError:
        raise EmailTaken(email) from None
    return account


async def find_by_email(db: Database, email: str) -> AccountDocument | None:
    return cast(AccountDocument | None, await db[COLLECTION].find_one({"email": email}))


async def find_by_id(db: Database, account_id: str) -> AccountDocument | None:
    return cast(AccountDocument | None, await db[COLLECTION].find_one({"_id": account_id}))


async def update_profile(
    db: Database, account_id: str, *, name: str | None, email: str | None
) -> AccountDocument | None:
    changes: dict[str, object] = {"updated_at": datetime.now(UTC)}
    if name is not None:
        changes["name"] = name
    if email is not None:
        changes["email"] = email
    unique = {"email": email} if email is not None else {}
    try:
        await engine.update_unique(db[COLLECTION], account_id, {"$set": changes}, unique=unique)
    except DuplicateKeyError:
        raise EmailTaken(email or "") from None
    return await find_by_id(db, account_id)


async def set_password_hash(db: Database, account_id: str, password_hash: str) -> None:
    await db[COLLECTION].update_one(
        {"_id": account_id},
        {"$set": {"password_hash": password_hash, "updated_at": datetime.now(UTC)}},
    )


async def delete_account(db: Database, account_id: str) -> int:
    result = await db[COLLECTION].delete_one({"_id": account_id})
    return result.deleted_count
