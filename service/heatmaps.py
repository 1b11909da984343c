"""What a heatmap request asks for, checked once for both ways of asking: GraphQL's
`heatmap` field and the PNG overlay (`GET /heatmaps/{site}.png`)."""

from datetime import datetime

from core.errors import BadRequest
from core.heatmaps import DEVICE_TYPES, normalize_page
from core.time_ranges import check_range
from storage.heatmaps import HeatmapQuery


def heatmap_query(
    site_id: str, url: str, kind: str, device: str | None, start: datetime, end: datetime
) -> HeatmapQuery:
    """The rollup query for one of the caller's sites (`site_id` is already owned), or
    `BadRequest` for a range, device or page the caller can fix."""
    check_range(start, end)
    if device is not None and device not in DEVICE_TYPES:
        raise BadRequest(f"`device` must be one of {', '.join(DEVICE_TYPES)}.")
    page = normalize_page(url)
    if not page:
        raise BadRequest("Give the page's URL or path.")
    return HeatmapQuery(site_id, kind, page, device, start, end)
