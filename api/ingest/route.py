"""`POST /ingest` (and its CORS preflight): validate fast, store, answer precisely.

Status codes: 200 stored (or a duplicate, or not recorded because of Do Not
Track), 400 malformed or dated too far ahead of the server's clock, 401 unknown
or rotated tracking key, 403 origin not one of the site's domains, 413 too
large, 429 too many requests, 503 storage unavailable (retry). Bad input never
yields a 500.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import ValidationError
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.ingest import clock, cors
from api.ingest.body import BadEncoding, BodyTooLarge, decompress_limited, read_limited
from api.ingest.contract import Batch, describe_errors
from api.ingest.pipeline import Visit, store_batch
from core.domains import origin_allowed
from core.inputs import without_nul
from core.logs import get_logger
from core.throttle import rate
from service.resources import Resources
from storage import sites
from storage.database import time_budget
from storage.errors import STORAGE_ERRORS
from storage.sites import SiteDocument

log = get_logger(__name__)


class Refusal(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def _answer(
    status: int, body: dict[str, Any], origin: str | None, headers: dict[str, str] | None = None
) -> Response:
    response = JSONResponse(body, status_code=status, headers=headers)
    return cors.allow_origin(response, origin)


async def ingest(request: Request) -> Response:
    resources: Resources = request.app.state.resources
    origin = request.headers.get("origin")
    try:
        if request.method == "OPTIONS":
            return await _preflight(resources, request, origin)
        return await _ingest(resources, request, origin)
    except Refusal as refusal:
        allowed = origin if refusal.status not in {401, 403} else None
        body = {"status": refusal.status, "code": refusal.code, "error": refusal.message}
        return _answer(refusal.status, body, allowed, refusal.headers)
    except STORAGE_ERRORS as exc:
        log.warning("ingest.storage_unavailable", error=type(exc).__name__)
        body = {
            "status": 503,
            "code": "storage_unavailable",
            "error": "Storage is unavailable; retry later.",
        }
        return _answer(503, body, origin, {"Retry-After": "5"})


async def _preflight(resources: Resources, request: Request, origin: str | None) -> Response:
    key = request.query_params.get("key")
    if not origin or not key:
        raise Refusal(403, "origin_not_allowed", "Preflight needs an Origin and ?key=.")
    with time_budget(resources.settings.SIGHTLINE_INGEST_STORAGE_TIMEOUT_S):
        site = await resources.site_cache.by_tracking_key(resources.db, key)
    if site is None or not origin_allowed(origin, site["domains"]):
        raise Refusal(
            403, "origin_not_allowed", "This origin may not send recordings for this key."
        )
    return cors.preflight(origin)


async def _ingest(resources: Resources, request: Request, origin: str | None) -> Response:
    settings = resources.settings
    batch, raw = await _parse(
        request,
        settings.SIGHTLINE_INGEST_MAX_BODY_BYTES,
        settings.SIGHTLINE_INGEST_MAX_DECOMPRESSED_BYTES,
    )
    received_at = datetime.now(UTC)
    _check_clock(batch, received_at, timedelta(seconds=settings.SIGHTLINE_INGEST_MAX_CLOCK_SKEW_S))
    with time_budget(settings.SIGHTLINE_INGEST_STORAGE_TIMEOUT_S):
        site = await _site(resources, batch.key, request.query_params.get("key"), origin)
        if _declined_tracking(site, request):
            return _answer(200, {"status": "ignored", "reason": "do_not_track"}, origin)
        visit = Visit(
            user_agent=request.headers.get("user-agent", ""),
            address=_address(request),
            received_at=received_at,
        )
        outcome = await store_batch(
            resources.db,
            site,
            batch,
            raw["events"],
            visit,
            resources.settings.secret_key,
            admitted=_check_rate(resources, site, request),
        )
    if outcome == "erased":
        return _answer(200, {"status": "ignored", "reason": "erased"}, origin)
    await _queue_processing(resources, site["_id"], batch.session_id)
    return _answer(200, {"status": outcome}, origin)


async def _queue_processing(resources: Resources, site_id: str, session_id: str) -> None:
    """Best effort: when Redis is down, the worker's sweep finds the chunk later."""
    breaker = resources.redis_breaker
    if not breaker.closed:
        return
    try:
        await resources.queue.enqueue_processing(
            site_id, session_id, delay_s=resources.settings.SIGHTLINE_PROCESS_DELAY_S
        )
    except RedisError as exc:
        breaker.trip()
        log.warning("ingest.queue_unavailable", error=type(exc).__name__)


async def _parse(
    request: Request, max_body: int, max_decompressed: int
) -> tuple[Batch, dict[str, Any]]:
    try:
        body = await read_limited(request, max_body)
        raw_bytes = decompress_limited(
            body, request.headers.get("content-encoding", ""), max_decompressed
        )
    except BodyTooLarge as exc:
        raise Refusal(413, "payload_too_large", str(exc)) from None
    except BadEncoding as exc:
        raise Refusal(400, "bad_encoding", str(exc)) from None
    try:
        raw = orjson.loads(raw_bytes)
    except orjson.JSONDecodeError as exc:
        raise Refusal(400, "invalid_json", f"The body is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise Refusal(400, "invalid_batch", "The body must be a JSON object.")
    if b"\\u0000" in raw_bytes:  # a JSON string can hold a NUL only as this escape
        raw = without_nul(raw)
    if not _storable_depth(raw):
        raise Refusal(400, "invalid_batch", "The body nests lists and objects too deeply.")
    try:
        return Batch.model_validate(raw), raw
    except ValidationError as exc:
        raise Refusal(400, "invalid_batch", "; ".join(describe_errors(exc.errors()))) from None


def _check_clock(batch: Batch, received_at: datetime, skew: timedelta) -> None:
    ahead = clock.ahead_by(batch, received_at)
    if ahead > skew:
        raise Refusal(
            400,
            "timestamp_in_future",
            f"A timestamp is {ahead.total_seconds() / 3600:.0f} h ahead of the server's clock; "
            f"at most {skew.total_seconds() / 3600:g} h is accepted.",
        )


def _storable_depth(raw: dict[str, Any]) -> bool:
    """Whether the events can be stored: the codec's JSON encoder refuses deep nesting
    (about 250 levels) that the parser accepts (1024)."""
    try:
        orjson.dumps(raw)
    except orjson.JSONEncodeError:
        return False
    return True


async def _site(
    resources: Resources, body_key: str, query_key: str | None, origin: str | None
) -> SiteDocument:
    if query_key is not None and query_key != body_key:
        raise Refusal(400, "invalid_batch", "The key in the URL and in the body differ.")
    site = await resources.site_cache.by_tracking_key(resources.db, body_key)
    if site is None:
        raise Refusal(401, "unknown_tracking_key", "Unknown or rotated tracking key.")
    if origin is not None and not origin_allowed(origin, site["domains"]):
        raise Refusal(403, "origin_not_allowed", "This origin is not one of the site's domains.")
    return site


def _declined_tracking(site: SiteDocument, request: Request) -> bool:
    if not sites.privacy_of(site)["respect_do_not_track"]:
        return False
    return request.headers.get("dnt") == "1" or request.headers.get("sec-gpc") == "1"


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


async def _check_rate(resources: Resources, site: SiteDocument, request: Request) -> None:
    breaker = resources.redis_breaker
    if not breaker.closed:
        return
    limit = rate(resources.settings.SIGHTLINE_INGEST_RATE_LIMIT)
    try:
        allowed = await resources.throttle.hit(limit, "ingest", site["_id"], _address(request))
    except RedisError as exc:
        breaker.trip()
        log.warning("ingest.rate_limit_unavailable", error=type(exc).__name__)
        return
    if not allowed:
        verdict = await resources.throttle.check(limit, "ingest", site["_id"], _address(request))
        raise Refusal(
            429,
            "rate_limited",
            "Too many requests; slow down.",
            {"Retry-After": str(verdict.retry_after_s)},
        )
