"""`GET /heatmaps/{site_id}.png`: a heatmap as a transparent PNG overlay.

Authorized like GraphQL (`Authorization: Bearer`, scope ANALYTICS_READ); query
parameters `url`, `kind` (click or move), `device`, `width`, `from` and `to`
(ISO dates; the last 30 days by default). The image is `width` px wide and as tall as the
heatmap's rows plus `core.heatmap_png.PAD_ROWS`, so blobs on the last row are drawn whole; its
top lines up with the page's top.
"""

import asyncio
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.heatmap_png import render_heatmap
from graph.access import require, scoped
from graph.auth import authenticate
from graph.context import Context, Resources
from graph.errors import UserError
from graph.heatmaps import heatmap_query
from graph.ownership import owned_site
from graph.ranges import TimeRange
from graph.scopes import Scope
from storage.heatmap_reads import read_heatmap


def _when(text: str | None, default: datetime) -> datetime:
    if not text:
        return default
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def heatmap_png(request: Request) -> Response:
    resources: Resources = request.app.state.resources
    auth = await authenticate(resources.db, request.headers.get("authorization"))
    ctx = Context(resources, request, Response(), auth.principal, auth.failure)
    params = request.query_params
    try:
        require(ctx, scoped(Scope.ANALYTICS_READ))
        site = await owned_site(ctx, request.path_params["site_id"])
        now = datetime.now(UTC)
        window = TimeRange(
            start=_when(params.get("from"), now - timedelta(days=30)),
            end=_when(params.get("to"), now),
        )
        kind = params.get("kind", "click")
        if kind not in {"click", "move"}:
            raise UserError("`kind` must be click or move.")
        width = int(params["width"]) if params.get("width", "").isdigit() else None
        query = heatmap_query(
            site["_id"], params.get("url", ""), kind, params.get("device"), window.checked()
        )
    except UserError as exc:
        status = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404}.get(exc.code, 400)
        return _error(status, exc.message)
    except ValueError as exc:
        return _error(400, f"Bad parameter: {exc}")
    data = await read_heatmap(resources.db, query, width)
    png = await asyncio.to_thread(render_heatmap, data.grid, width_px=width or max(data.band, 320))
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})
