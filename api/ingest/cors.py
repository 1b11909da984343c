"""CORS for the ingest endpoint: only the site's own domains may send."""

from starlette.responses import Response

PREFLIGHT_MAX_AGE_S = 86400


def allow_origin(response: Response, origin: str | None) -> Response:
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "Retry-After, X-Request-ID"
    response.headers["Vary"] = "Origin"
    return response


def preflight(origin: str) -> Response:
    response = Response(status_code=204)
    response.headers["Access-Control-Allow-Methods"] = "POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type, Content-Encoding"
    response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_S)
    return allow_origin(response, origin)
