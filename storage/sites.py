"""Sites: the websites an account records, with their privacy settings."""

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict, cast

from pymongo import ReturnDocument

from storage.database import Database, Document
from storage.ids import new_id

COLLECTION = "sites"
TRACKING_KEY_PREFIX = "slk_"


class PrivacySettings(TypedDict, total=False):
    """What a site lets the snippet record; a site stored before a setting existed lacks it
    (readers fill it from `DEFAULT_PRIVACY`)."""

    record_inputs: bool
    mask_selectors: list[str]
    block_selectors: list[str]
    anonymize_ip: bool
    respect_do_not_track: bool
    retention_days: int


class SiteDocument(TypedDict):
    """A site as stored."""

    _id: str
    account_id: str
    name: str
    domains: list[str]
    tracking_key: str
    privacy: PrivacySettings
    # Frustration-signal thresholds, once changed (workers.extraction.settings.SignalSettings).
    signals: NotRequired[dict[str, object]]
    # Query parameters that tell a site's heatmap pages apart (core.heatmaps.normalize_page);
    # no API sets them yet.
    heatmap_keep_params: NotRequired[list[str]]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class SitePrivacy(TypedDict):
    """A live site's privacy settings alone (`all_live_sites`)."""

    _id: str
    privacy: NotRequired[PrivacySettings]


DEFAULT_PRIVACY: PrivacySettings = {
    "record_inputs": False,
    "mask_selectors": [],
    "block_selectors": [],
    "anonymize_ip": True,
    "respect_do_not_track": True,
    "retention_days": 30,
}


def privacy_of(site: Mapping[str, Any]) -> PrivacySettings:
    """The site's privacy settings, each one it lacks (stored before it existed) at its default."""
    return {**DEFAULT_PRIVACY, **(site.get("privacy") or {})}


def new_tracking_key() -> str:
    return TRACKING_KEY_PREFIX + secrets.token_urlsafe(18)


def _live(query: Document) -> Document:
    return {**query, "deleted_at": None}


async def create_site(
    db: Database, *, account_id: str, name: str, domains: list[str]
) -> SiteDocument:
    now = datetime.now(UTC)
    site: SiteDocument = {
        "_id": new_id(),
        "account_id": account_id,
        "name": name,
        "domains": domains,
        "tracking_key": new_tracking_key(),
        "privacy": DEFAULT_PRIVACY.copy(),
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
    }
    await db[COLLECTION].insert_one(dict(site))
    return site


async def find_owned_site(db: Database, account_id: str, site_id: str) -> SiteDocument | None:
    query = _live({"_id": site_id, "account_id": account_id})
    return cast(SiteDocument | None, await db[COLLECTION].find_one(query))


async def list_owned_sites(
    db: Database, account_id: str, only: frozenset[str] | None = None, *, limit: int = 1000
) -> list[SiteDocument]:
    query: Document = _live({"account_id": account_id})
    if only is not None:
        query["_id"] = {"$in": sorted(only)}
    cursor = db[COLLECTION].find(query, sort=[("_id", 1)], limit=limit)
    return cast(list[SiteDocument], await cursor.to_list(None))


async def owned_site_ids(db: Database, account_id: str, site_ids: list[str]) -> set[str]:
    cursor = db[COLLECTION].find(
        _live({"_id": {"$in": site_ids}, "account_id": account_id}), projection={"_id": 1}
    )
    return {doc["_id"] async for doc in cursor}


async def find_by_tracking_key(db: Database, tracking_key: str) -> SiteDocument | None:
    site = await db[COLLECTION].find_one(_live({"tracking_key": tracking_key}))
    return cast(SiteDocument | None, site)


async def update_site(db: Database, site_id: str, changes: Document) -> SiteDocument | None:
    """`changes` are `$set` paths (`privacy.anonymize_ip`, say) and their values."""
    site = await db[COLLECTION].find_one_and_update(
        _live({"_id": site_id}),
        {"$set": {**changes, "updated_at": datetime.now(UTC)}},
        return_document=ReturnDocument.AFTER,
    )
    return cast(SiteDocument | None, site)


async def rotate_tracking_key(db: Database, site_id: str) -> SiteDocument | None:
    return await update_site(db, site_id, {"tracking_key": new_tracking_key()})


async def mark_deleted(db: Database, site_id: str) -> bool:
    result = await db[COLLECTION].update_one(
        _live({"_id": site_id}), {"$set": {"deleted_at": datetime.now(UTC)}}
    )
    return result.modified_count == 1


async def site_ids_of_account(db: Database, account_id: str) -> list[str]:
    cursor = db[COLLECTION].find({"account_id": account_id}, projection={"_id": 1})
    return [doc["_id"] async for doc in cursor]


async def find_live_site(db: Database, site_id: str) -> SiteDocument | None:
    return cast(SiteDocument | None, await db[COLLECTION].find_one(_live({"_id": site_id})))


async def is_live(db: Database, site_id: str) -> bool:
    """Whether the site exists and is not being deleted."""
    return await db[COLLECTION].find_one(_live({"_id": site_id}), projection={"_id": 1}) is not None


async def all_live_sites(db: Database) -> list[SitePrivacy]:
    cursor = db[COLLECTION].find({"deleted_at": None}, projection={"privacy": 1})
    return cast(list[SitePrivacy], await cursor.to_list(None))
