"""Carrying out privacy requests: erasures, deletions, exports and PII scans.

Each request runs as one job that can be repeated after a crash: deletions go
through `storage.erasure.Ledger` (exact counts, bounded batches), a session is
only touched while its lease is held (so no extraction or compaction running
at the same time can write back what was erased), and tombstones keep erased
visitors and sessions from being recorded again.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.epoch import epoch_ms
from core.logs import get_logger
from storage import (
    api_keys,
    auth_tokens,
    claims,
    erasure,
    privacy_requests,
    session_buckets,
    sessions,
    sites,
    tombstones,
    visitors,
)
from storage import exports as export_store
from storage.database import Database, Document
from workers import exports, pii_scan
from workers.leases import DEFAULT_LEASE, session_lease
from workers.queue import JobQueue

log = get_logger(__name__)

LEASE_WAIT = timedelta(minutes=3)


class SessionBusy(RuntimeError):
    """A session's lease stayed taken longer than an erasure waits; the job is retried."""


@dataclass(frozen=True)
class Work:
    db: Database
    secret_key: bytes
    request: privacy_requests.RequestDocument
    ledger: erasure.Ledger

    @property
    def site_id(self) -> str:
        return str(self.request["site_id"])

    @property
    def parameters(self) -> Document:
        return self.request.get("parameters") or {}


Handler = Callable[[Work], Awaitable[None]]


async def erase_session(work: Work, session_id: str) -> None:
    """Tombstone the session, then delete it under its lease."""
    mark = tombstones.session_mark(work.secret_key, work.site_id, session_id)
    await tombstones.bury(work.db, mark, site_id=work.site_id, request_id=work.request["_id"])
    deadline = datetime.now(UTC) + LEASE_WAIT
    while True:
        async with session_lease(work.db, work.site_id, session_id, DEFAULT_LEASE) as lease:
            if lease is not None:
                await erasure.delete_session_data(work.ledger, work.site_id, session_id)
                return
        if datetime.now(UTC) > deadline:
            raise SessionBusy(session_id)
        await asyncio.sleep(1)


async def _erase_sessions(work: Work, documented: list[str], pieces: dict[str, Document]) -> None:
    """Erase the sessions found through their documents, and those whose own pieces
    match `pieces` (per collection of `erasure.SESSION_PIECES`) but have no document."""
    orphans = await erasure.orphan_session_ids(work.db, work.site_id, pieces)
    for session_id in [*documented, *orphans]:
        await erase_session(work, session_id)


async def _erase_visitor(work: Work) -> None:
    visitor_id = work.parameters["visitor_id"]
    mark = tombstones.visitor_mark(work.secret_key, work.site_id, visitor_id)
    await tombstones.bury(work.db, mark, site_id=work.site_id, request_id=work.request["_id"])
    documented = await sessions.session_ids_of_visitor(work.db, work.site_id, visitor_id)
    pieces = {name: {"visitor_id": visitor_id} for name in erasure.SESSION_PIECES}
    await _erase_sessions(work, documented, pieces)
    await erasure.delete_visitor_data(work.ledger, work.site_id, visitor_id)


async def _erase_recordings(work: Work) -> None:
    start, end = _range(work.parameters)
    documented = await sessions.session_ids_started_between(work.db, work.site_id, start, end)
    recorded = {"first_ts": {"$gte": epoch_ms(start), "$lt": epoch_ms(end)}}
    pieces: dict[str, Document] = {
        "recording_chunks": recorded,
        "recording_parts": recorded,
        "events": {"at": {"$gte": start, "$lt": end}},
    }
    await _erase_sessions(work, documented, pieces)
    await work.ledger.delete("events", {"site_id": work.site_id, "at": {"$gte": start, "$lt": end}})
    await _prune_start_hours(work, end)


async def _retention(work: Work) -> None:
    """Everything the server received before the cutoff, by the server's clock: a client
    clock (or a batch dated 2099) cannot keep data past the site's retention."""
    cutoff = datetime.fromisoformat(work.parameters["cutoff"])
    documented = await sessions.session_ids_received_before(work.db, work.site_id, cutoff)
    received = {"received_at": {"$lt": cutoff}}
    pieces: dict[str, Document] = {
        "recording_chunks": received,
        "recording_parts": received,
        "events": {"at": {"$lt": cutoff}},  # an event's own time: only for orphans' events
    }
    await _erase_sessions(work, documented, pieces)
    await work.ledger.delete("visitors", visitors.received_before(work.site_id, cutoff))
    await _prune_start_hours(work, cutoff)


async def _prune_start_hours(work: Work, before: datetime) -> None:
    """Forget the hours the erased sessions started in, so lists stop looking at them."""
    now_ms = epoch_ms(datetime.now(UTC))
    await session_buckets.prune(work.db, work.site_id, epoch_ms(before), now_ms)


async def _delete_site(work: Work) -> None:
    await _wait_for_site_leases(work.db, work.site_id)
    await erasure.delete_site_data(work.ledger, work.site_id)


async def _delete_account(work: Work) -> None:
    account_id = work.parameters["account_id"]
    for site_id in await sites.site_ids_of_account(work.db, account_id):
        await _wait_for_site_leases(work.db, site_id)
        await erasure.delete_site_data(work.ledger, site_id)
    await work.ledger.delete(auth_tokens.COLLECTION, {"account_id": account_id})
    await work.ledger.delete(api_keys.COLLECTION, {"account_id": account_id})


async def _wait_for_site_leases(db: Database, site_id: str) -> None:
    """Let running extractions and compactions of the site finish before deleting it."""
    deadline = datetime.now(UTC) + LEASE_WAIT
    while await claims.held_with_prefix(db, f"session:{site_id}:"):
        if datetime.now(UTC) > deadline:
            raise SessionBusy(site_id)
        await asyncio.sleep(1)


async def _export_visitor(work: Work) -> None:
    visitor_id = work.parameters["visitor_id"]
    session_ids = await sessions.session_ids_of_visitor(work.db, work.site_id, visitor_id)
    outcome = await exports.export_visitor(
        work.db, work.request["_id"], work.site_id, visitor_id, session_ids
    )
    if await _erased_meanwhile(work, visitor_id, session_ids):
        await export_store.delete_export(work.db, work.request["_id"])
        outcome = {"withdrawn": "the visitor or one of their sessions was erased"}
    await privacy_requests.record_outcome(work.db, work.request["_id"], outcome)


async def _erased_meanwhile(work: Work, visitor_id: str, session_ids: list[str]) -> bool:
    """Whether an erasure that ran alongside the export covers what it holds: its
    deletion of exports may have come before a slice was written."""
    marks = [tombstones.visitor_mark(work.secret_key, work.site_id, visitor_id)]
    marks += [tombstones.session_mark(work.secret_key, work.site_id, s) for s in session_ids]
    buried = await tombstones.any_buried(work.db, marks)
    return buried or await sites.find_live_site(work.db, work.site_id) is None


async def _scan(work: Work) -> None:
    start, end = _range(work.parameters)

    async def checkpoint(progress: Document) -> None:
        await privacy_requests.save_progress(work.db, work.request["_id"], progress)

    outcome = await pii_scan.scan_site(
        work.db,
        work.site_id,
        start,
        end,
        redact=bool(work.parameters.get("redact")),
        resume=work.request.get("progress"),
        checkpoint=checkpoint,
    )
    await privacy_requests.record_outcome(work.db, work.request["_id"], outcome)


def _range(parameters: Document) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(parameters["from"]), datetime.fromisoformat(parameters["to"])


HANDLERS: dict[str, Handler] = {
    "erase_visitor": _erase_visitor,
    "erase_recordings": _erase_recordings,
    "retention": _retention,
    "delete_site": _delete_site,
    "delete_account": _delete_account,
    "export_visitor": _export_visitor,
    "scan_recordings": _scan,
}


async def run_privacy_request(db: Database, secret_key: bytes, request_id: str) -> str:
    """Carry out one request; running it again after a crash finishes the work."""
    request = await privacy_requests.find_request(db, request_id)
    if request is None:
        log.warning("privacy_request.missing", request=request_id)
        return "missing"
    if request["status"] in {
        privacy_requests.RequestStatus.DONE,
        privacy_requests.RequestStatus.FAILED,
    }:
        return str(request["status"])
    handler = HANDLERS.get(request["kind"])
    if handler is None:
        await privacy_requests.mark_failed(db, request_id, f"unknown kind {request['kind']!r}")
        return "failed"
    await privacy_requests.mark_running(db, request_id)
    ledger = erasure.Ledger(db, request_id)
    await ledger.resume()
    await handler(Work(db, secret_key, request, ledger))
    await privacy_requests.mark_done(db, request_id)
    log.info("privacy_request.done", request=request_id, kind=request["kind"])
    return "done"


async def schedule_retention(db: Database, queue: JobQueue, now: datetime | None = None) -> int:
    """Create a retention request for every live site and queue it; how many were queued.

    `now` is the server's clock (tests move it); retention compares it with when the
    server received the data, never with the client's timestamps."""
    now = now or datetime.now(UTC)
    queued = 0
    for site in await sites.all_live_sites(db):
        days = sites.privacy_of(site)["retention_days"]
        cutoff = now - timedelta(days=days)
        request = await privacy_requests.create_request(
            db,
            kind="retention",
            subject_hash="",
            requested_by="retention schedule",
            site_id=site["_id"],
            parameters={"cutoff": cutoff.isoformat()},
            asked={"retention_days": days, "older_than": cutoff.isoformat()},
        )
        await queue.enqueue_privacy_request(request["_id"])
        queued += 1
    await export_store.delete_expired(db, now)
    return queued
