"""Carrying out privacy requests: account and site deletions."""

from collections.abc import Awaitable, Callable

from core.logs import get_logger
from storage import api_keys, auth_tokens, erasure, privacy_requests, sites
from storage.database import Database, Document

log = get_logger(__name__)

Handler = Callable[[Database, Document], Awaitable[dict[str, int]]]


async def _delete_site(db: Database, request: Document) -> dict[str, int]:
    return await erasure.delete_site_data(db, request["site_id"])


async def _delete_account(db: Database, request: Document) -> dict[str, int]:
    account_id = request["parameters"]["account_id"]
    counts: dict[str, int] = {}
    for site_id in await sites.site_ids_of_account(db, account_id):
        for collection, count in (await erasure.delete_site_data(db, site_id)).items():
            counts[collection] = counts.get(collection, 0) + count
    counts["auth_tokens"] = await auth_tokens.revoke_all_tokens(db, account_id)
    counts["api_keys"] = await api_keys.delete_account_keys(db, account_id)
    return counts


HANDLERS: dict[str, Handler] = {
    "delete_site": _delete_site,
    "delete_account": _delete_account,
}


async def run_privacy_request(db: Database, request_id: str) -> str:
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
    counts = await handler(db, request)
    for collection, count in counts.items():
        await privacy_requests.add_removed(db, request_id, collection, count)
    await privacy_requests.mark_done(db, request_id)
    log.info("privacy_request.done", request=request_id, kind=request["kind"], removed=counts)
    return "done"
