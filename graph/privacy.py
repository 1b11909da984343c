"""Privacy requests as the API shows them."""

from datetime import datetime
from typing import cast

import strawberry
from redis.exceptions import RedisError
from strawberry.scalars import JSON

from core.logs import get_logger
from graph.context import Context
from storage.database import Document
from workers.queue import Job

log = get_logger(__name__)


@strawberry.type(description="An erasure, export or deletion, and what it removed.")
class PrivacyRequest:
    id: strawberry.ID
    kind: str
    status: str
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    removed: JSON = strawberry.field(description="Documents removed, per collection.")

    @classmethod
    def from_document(cls, doc: Document) -> "PrivacyRequest":
        return cls(
            id=strawberry.ID(doc["_id"]),
            kind=doc["kind"],
            status=doc["status"],
            requested_at=doc["requested_at"],
            started_at=doc.get("started_at"),
            finished_at=doc.get("finished_at"),
            removed=cast(JSON, doc.get("removed") or {}),
        )


async def enqueue_privacy_request(ctx: Context, request_id: str) -> None:
    """Queue the worker job; if Redis is down, the request waits for the sweep."""
    try:
        await ctx.resources.queue.enqueue(
            Job.RUN_PRIVACY_REQUEST, request_id, job_id=f"privacy:{request_id}"
        )
    except RedisError as exc:
        log.warning("privacy_request.enqueue_failed", request=request_id, error=repr(exc))
