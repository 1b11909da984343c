"""Privacy requests (erasures, exports, account deletions) and their outcome.

A request never holds the personal data it is about: the subject is stored as
a keyed hash.
"""

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NotRequired, TypedDict, cast

from storage.database import Database, Document
from storage.ids import new_id

COLLECTION = "privacy_requests"


class RequestStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class PendingBatch(TypedDict):
    """A batch of documents about to be deleted (`set_pending`)."""

    collection: str
    ids: list[object]


class RequestDocument(TypedDict):
    """A privacy request as stored. `parameters`, `pending` and `progress` are left out of
    `list_for_site`; `outcome`, `pending` and `progress` exist only once set."""

    _id: str
    kind: str
    status: str  # a RequestStatus value
    subject_hash: str  # keyed hash of the subject, "" when there is none
    requested_by: str
    site_id: str | None
    parameters: NotRequired[dict[str, Any]]  # the worker's input, as the kind defines it
    asked: dict[str, Any]  # what stays on record, as the kind defines it
    removed: dict[str, int]  # documents deleted, by collection
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    outcome: NotRequired[dict[str, Any]]
    pending: NotRequired[PendingBatch]
    progress: NotRequired[dict[str, Any]]


async def create_request(
    db: Database,
    *,
    kind: str,
    subject_hash: str,
    requested_by: str,
    site_id: str | None = None,
    parameters: Document | None = None,
    asked: Document | None = None,
) -> RequestDocument:
    """A pending request. `parameters` are what the worker needs (possibly personal,
    cleared when done); `asked` is what stays on record (never personal)."""
    request: RequestDocument = {
        "_id": new_id(),
        "kind": kind,
        "status": RequestStatus.PENDING.value,
        "subject_hash": subject_hash,
        "requested_by": requested_by,
        "site_id": site_id,
        "parameters": parameters or {},
        "asked": asked or {},
        "removed": {},
        "requested_at": datetime.now(UTC),
        "started_at": None,
        "finished_at": None,
        "error": None,
    }
    await db[COLLECTION].insert_one(dict(request))
    return request


async def find_request(db: Database, request_id: str) -> RequestDocument | None:
    return cast(RequestDocument | None, await db[COLLECTION].find_one({"_id": request_id}))


async def mark_running(db: Database, request_id: str) -> None:
    await db[COLLECTION].update_one(
        {"_id": request_id, "status": {"$in": [RequestStatus.PENDING, RequestStatus.RUNNING]}},
        {"$set": {"status": RequestStatus.RUNNING.value, "started_at": datetime.now(UTC)}},
    )


async def mark_done(db: Database, request_id: str) -> None:
    """Finish the request and drop the working parameters, which may identify the subject."""
    await db[COLLECTION].update_one(
        {"_id": request_id},
        {
            "$set": {
                "status": RequestStatus.DONE.value,
                "finished_at": datetime.now(UTC),
                "parameters": {},
            },
            "$unset": {"progress": ""},
        },
    )


async def mark_failed(db: Database, request_id: str, error: str) -> None:
    await db[COLLECTION].update_one(
        {"_id": request_id},
        {"$set": {"status": RequestStatus.FAILED.value, "error": error[:500]}},
    )


async def stale_pending_ids(db: Database, *, older_than: timedelta, limit: int = 100) -> list[str]:
    """Requests still waiting for a worker, e.g. because Redis was down when made."""
    cutoff = datetime.now(UTC) - older_than
    cursor = db[COLLECTION].find(
        {
            "status": {"$in": [RequestStatus.PENDING, RequestStatus.RUNNING]},
            "requested_at": {"$lt": cutoff},
        },
        projection={"_id": 1},
        limit=limit,
    )
    return [doc["_id"] async for doc in cursor]


async def list_for_site(db: Database, site_id: str, *, limit: int = 100) -> list[RequestDocument]:
    cursor = db[COLLECTION].find(
        {"site_id": site_id},
        projection={"parameters": 0, "pending": 0, "progress": 0},
        sort=[("requested_at", -1)],
        limit=limit,
    )
    return cast(list[RequestDocument], await cursor.to_list(None))


async def set_pending(db: Database, request_id: str, collection: str, ids: list[object]) -> None:
    """Record a batch about to be deleted, so a crash after the delete still counts it."""
    await db[COLLECTION].update_one(
        {"_id": request_id}, {"$set": {"pending": {"collection": collection, "ids": ids}}}
    )


async def settle_pending(db: Database, request_id: str, collection: str, count: int) -> None:
    """Count a deleted batch and forget it, in one write."""
    update: Document = {"$unset": {"pending": ""}}
    if count:
        update["$inc"] = {f"removed.{collection}": count}
    await db[COLLECTION].update_one({"_id": request_id}, update)


async def record_outcome(db: Database, request_id: str, outcome: Document) -> None:
    """Attach what a request produced besides deletions (findings, an export)."""
    await db[COLLECTION].update_one({"_id": request_id}, {"$set": {"outcome": outcome}})


async def save_progress(db: Database, request_id: str, progress: Document) -> None:
    """Where a long request got to, so a run after a crash resumes there (dropped when done)."""
    await db[COLLECTION].update_one({"_id": request_id}, {"$set": {"progress": progress}})
