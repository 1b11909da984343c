"""The HTTP side of the error boundary: one handler for every route.

A route raises a `core.errors.SightlineError` (or lets a MongoDB or Redis outage
escape) and this answers it from the same table GraphQL uses: the class's HTTP
status, `{"error": message, "code": CODE}`, and its headers (`Retry-After`).
Anything else escapes to `RequestContextMiddleware`, which logs it and answers
a bare 500 with code `INTERNAL`.
"""

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.errors import TRANSLATIONS, SightlineError, answer_for, translated
from core.logs import get_logger

log = get_logger(__name__)

Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


def error_response(error: SightlineError) -> JSONResponse:
    return JSONResponse(
        {"error": error.message, "code": error.code},
        status_code=answer_for(error).status,
        headers=error.headers,
    )


async def handle(request: Request, exc: Exception) -> Response:
    known = translated(exc)
    if known is None:  # registered only for classes that translate
        raise exc
    if known is not exc:
        log.warning("request.storage_error", path=request.url.path, error=type(exc).__name__)
    return error_response(known)


def exception_handlers() -> dict[type[Exception], Handler]:
    """One handler for our errors and every class the boundary translates.

    Read when the application is built, after `storage/` registered the driver's errors."""
    return {SightlineError: handle, **dict.fromkeys(TRANSLATIONS, handle)}
