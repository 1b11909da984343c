"""The browser snippet a site owner installs, and the rrweb bundle it loads.

`GET /sightline.js` is `api/static/sightline.js`; `GET /static/vendor/rrweb-2.2.2.min.js` is
rrweb's UMD bundle from the npm package, vendored unchanged (`api/static/vendor/README.md`),
and `GET /static/vendor/rrweb-2.2.2.min.css` the stylesheet its `Replayer` needs, for players.
They are read once, kept in memory with a gzip copy, and served to any origin
(`Access-Control-Allow-Origin: *`, since every site embeds them) with an ETag, so a browser
revalidates cheaply. The snippet's cache is short, so a new release reaches sites within
minutes; the vendored bundle's name carries its version, so it is cached for a day.
"""

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from core.logs import get_logger

log = get_logger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
RRWEB_VERSION = "2.2.2"
SNIPPET_PATH = "/sightline.js"
RRWEB_PATH = f"/static/vendor/rrweb-{RRWEB_VERSION}.min.js"
RRWEB_CSS_PATH = f"/static/vendor/rrweb-{RRWEB_VERSION}.min.css"
SNIPPET_MAX_AGE_S = 300
RRWEB_MAX_AGE_S = 86400
JAVASCRIPT = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str


@cache
def _asset(relative: str) -> Asset | None:
    path = STATIC / relative
    try:
        body = path.read_bytes()
    except OSError as exc:
        log.error("snippet.file_missing", path=str(path), error=type(exc).__name__)
        return None
    digest = hashlib.sha256(body).hexdigest()[:32]
    return Asset(body=body, gzipped=gzip.compress(body, mtime=0), etag=f'"{digest}"')


def _serve(
    request: Request, relative: str, max_age_s: int, media_type: str = JAVASCRIPT
) -> Response:
    asset = _asset(relative)
    if asset is None:
        return PlainTextResponse("Not installed with this server.", status_code=404)
    headers = {
        "Cache-Control": f"public, max-age={max_age_s}",
        "ETag": asset.etag,
        "Vary": "Accept-Encoding",
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
    }
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=media_type, headers=headers)
    return Response(asset.body, media_type=media_type, headers=headers)


async def snippet_js(request: Request) -> Response:
    return _serve(request, "sightline.js", SNIPPET_MAX_AGE_S)


async def rrweb_js(request: Request) -> Response:
    return _serve(request, f"vendor/rrweb-{RRWEB_VERSION}.min.js", RRWEB_MAX_AGE_S)


async def rrweb_css(request: Request) -> Response:
    return _serve(request, f"vendor/rrweb-{RRWEB_VERSION}.min.css", RRWEB_MAX_AGE_S, CSS)
