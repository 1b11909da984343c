"""Privacy operations: erasure, export, scanning for personal data, and their records."""

from datetime import datetime
from typing import cast

import strawberry
from redis.exceptions import RedisError
from strawberry.scalars import JSON

from core.credentials import keyed_hash
from core.logs import get_logger
from graph.context import Context
from graph.errors import UserError
from graph.links import Link, export_link
from graph.ownership import on_owned_site, owned_site
from graph.pagination import MAX_PAGE_SIZE, page_size
from graph.ranges import TimeRange
from storage import exports, privacy_requests
from storage.database import Document
from storage.sites import SiteDocument

log = get_logger(__name__)

MAX_VISITOR_ID = 64


@strawberry.type(
    description="An erasure, export, scan or deletion: what was asked, by whom, when, "
    "its status, and what it removed per collection. It never holds the subject's "
    "identifier, only a keyed hash of it."
)
class PrivacyRequest:
    id: strawberry.ID
    kind: str
    status: str = strawberry.field(description="pending, running, done or failed.")
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    requested_by: str
    subject_hash: str
    asked: JSON = strawberry.field(description="What was asked, without personal data.")
    removed: JSON = strawberry.field(description="Documents removed, per collection.")
    outcome: JSON | None = strawberry.field(
        description="Scan findings (session, event index, kind; never values) or export size."
    )
    error: str | None

    @strawberry.field(
        description="For a finished export still kept (24 hours, and never once its visitor "
        "or one of its sessions is erased): a signed link, valid 15 minutes."
    )
    async def download_url(self, info: strawberry.Info[Context, None]) -> Link | None:
        if self.kind != "export_visitor" or self.status != "done":
            return None
        if not await exports.available(info.context.db, str(self.id)):
            return None
        return export_link(info.context.resources.settings, str(self.id))

    @classmethod
    def from_document(cls, doc: privacy_requests.RequestDocument) -> "PrivacyRequest":
        return cls(
            id=strawberry.ID(doc["_id"]),
            kind=doc["kind"],
            status=doc["status"],
            requested_at=doc["requested_at"],
            started_at=doc.get("started_at"),
            finished_at=doc.get("finished_at"),
            requested_by=doc.get("requested_by", ""),
            subject_hash=doc.get("subject_hash", ""),
            asked=cast(JSON, doc.get("asked") or {}),
            removed=cast(JSON, doc.get("removed") or {}),
            outcome=cast(JSON, doc.get("outcome")),
            error=doc.get("error"),
        )


async def enqueue_privacy_request(ctx: Context, request_id: str) -> None:
    """Queue the worker job; if Redis is down, the request waits for the sweep."""
    try:
        await ctx.resources.queue.enqueue_privacy_request(request_id)
    except RedisError as exc:
        log.warning("privacy_request.enqueue_failed", request=request_id, error=repr(exc))


def _requester(ctx: Context) -> str:
    principal = ctx.caller
    return f"api_key:{principal.key_id}" if principal.key_id else f"account:{principal.account_id}"


def _visitor(visitor_id: str) -> str:
    if not 1 <= len(visitor_id) <= MAX_VISITOR_ID:
        raise UserError(f"A visitor id has 1 to {MAX_VISITOR_ID} characters.")
    return visitor_id


async def _request(
    ctx: Context,
    site: SiteDocument,
    kind: str,
    subject: str,
    parameters: Document,
    asked: Document,
) -> PrivacyRequest:
    subject_hash = (
        keyed_hash(ctx.resources.settings.secret_key, f"{site['_id']}:{subject}") if subject else ""
    )
    doc = await privacy_requests.create_request(
        ctx.db,
        kind=kind,
        subject_hash=subject_hash,
        requested_by=_requester(ctx),
        site_id=site["_id"],
        parameters=parameters,
        asked={**asked, "subject_hash": subject_hash} if subject else asked,
    )
    await enqueue_privacy_request(ctx, doc["_id"])
    return PrivacyRequest.from_document(doc)


def _range_parameters(window: TimeRange) -> Document:
    return {"from": window.start.isoformat(), "to": window.end.isoformat()}


@strawberry.type
class PrivacyQuery:
    @strawberry.field(
        description=f"A site's privacy requests, newest first: the latest `first` "
        f"(1 to {MAX_PAGE_SIZE}; {MAX_PAGE_SIZE} when left out)."
    )
    async def privacy_requests(
        self, info: strawberry.Info[Context, None], site_id: strawberry.ID, first: int | None = None
    ) -> list[PrivacyRequest]:
        limit = MAX_PAGE_SIZE if first is None else page_size(first)
        site = await owned_site(info.context, str(site_id))
        docs = await privacy_requests.list_for_site(info.context.db, site["_id"], limit=limit)
        return [PrivacyRequest.from_document(d) for d in docs]

    @strawberry.field(description="One privacy request, by id.")
    async def privacy_request(
        self, info: strawberry.Info[Context, None], id: strawberry.ID
    ) -> PrivacyRequest:
        doc = await privacy_requests.find_request(info.context.db, str(id))
        owned = await on_owned_site(info.context, doc, "No such privacy request.")
        return PrivacyRequest.from_document(owned)


@strawberry.type
class PrivacyMutation:
    @strawberry.mutation(
        description="Right to erasure: remove a visitor and everything keyed to them."
    )
    async def erase_visitor(
        self, info: strawberry.Info[Context, None], site_id: strawberry.ID, visitor_id: str
    ) -> PrivacyRequest:
        site = await owned_site(info.context, str(site_id))
        visitor = _visitor(visitor_id)
        return await _request(
            info.context, site, "erase_visitor", f"visitor:{visitor}", {"visitor_id": visitor}, {}
        )

    @strawberry.mutation(
        description="Remove every recording, event and session started in a range."
    )
    async def erase_recordings(
        self, info: strawberry.Info[Context, None], site_id: strawberry.ID, range: TimeRange
    ) -> PrivacyRequest:
        site = await owned_site(info.context, str(site_id))
        window = _range_parameters(range)
        return await _request(info.context, site, "erase_recordings", "", window, window)

    @strawberry.mutation(
        description="Right of access: one JSON document with everything about a visitor."
    )
    async def export_visitor(
        self, info: strawberry.Info[Context, None], site_id: strawberry.ID, visitor_id: str
    ) -> PrivacyRequest:
        site = await owned_site(info.context, str(site_id))
        visitor = _visitor(visitor_id)
        return await _request(
            info.context, site, "export_visitor", f"visitor:{visitor}", {"visitor_id": visitor}, {}
        )

    @strawberry.mutation(
        description="Scan stored recordings for emails, card numbers and phone numbers that "
        "masking missed; with `redact`, replace them in place."
    )
    async def scan_recordings(
        self,
        info: strawberry.Info[Context, None],
        site_id: strawberry.ID,
        range: TimeRange,
        redact: bool = False,
    ) -> PrivacyRequest:
        site = await owned_site(info.context, str(site_id))
        parameters = {**_range_parameters(range), "redact": redact}
        return await _request(info.context, site, "scan_recordings", "", parameters, parameters)
