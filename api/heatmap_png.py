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
from starlette.responses import Response

from api.params import int_param, time_param
from core.errors import BadRequest
from core.heatmap_png import render_heatmap
from service.access import permit, scoped
from service.heatmaps import heatmap_query
from service.identity import authenticate, identified
from service.ownership import owned_site
from service.resources import Resources
from service.scopes import Scope
from storage.heatmap_reads import read_heatmap

MAX_WIDTH = 2**31 - 1  # as GraphQL's `viewportWidth: Int`


async def heatmap_png(request: Request) -> Response:
    """Errors are raised, and answered by the error boundary (`api.errors`)."""
    resources: Resources = request.app.state.resources
    auth = await authenticate(resources.db, request.headers.get("authorization"))
    caller = identified(auth.principal, auth.failure)
    permit(caller, scoped(Scope.ANALYTICS_READ))
    site = await owned_site(resources.db, caller, request.path_params["site_id"])
    params = request.query_params
    now = datetime.now(UTC)
    start = time_param(params, "from", now - timedelta(days=30))
    end = time_param(params, "to", now)
    kind = params.get("kind", "click")
    if kind not in {"click", "move"}:
        raise BadRequest("`kind` must be click or move.")
    width = int_param(params, "width", minimum=1, maximum=MAX_WIDTH)
    page, device = params.get("url", ""), params.get("device")
    query = heatmap_query(site["_id"], page, kind, device, start, end)
    data = await read_heatmap(resources.db, query, width)
    png = await asyncio.to_thread(render_heatmap, data.grid, width_px=width or max(data.band, 320))
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})
