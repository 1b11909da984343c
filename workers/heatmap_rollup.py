"""Maintaining heatmap rollups from a session's derived events and mouse moves.

Clicks are rolled up as soon as they are derived; scroll depth only when the
session is final (its depth can still grow until then); mouse moves are sampled
from chunks the first time they are processed. Each derived event carries a
`rolled_up` mark, so reprocessing a session counts nothing twice. (A crash
between writing the counters and marking the events can count one batch of
clicks twice: counters are statistics, and no identifier is involved.)
"""

from collections.abc import Iterable
from typing import Any

from core import heatmaps as grid
from storage import events as event_store
from storage import heatmaps
from storage.database import Database, Document

MOVE = 1
SCROLL = 3
VIEWPORT = 4
META = 4
INCREMENTAL = 3
FULL_SNAPSHOT = 2


def _key(
    site_id: str, kind: str, page: str, device: str, width: int | None, at: int
) -> heatmaps.BucketKey:
    return heatmaps.BucketKey(
        site_id, kind, page, device, grid.width_bucket(width), heatmaps.day_of(at)
    )


def add_click(inc: heatmaps.Increments, site: Document, device: str, event: Document) -> None:
    x, y, width = event.get("x"), event.get("y"), event.get("viewport_width")
    if x is None or y is None or not width or not event.get("url"):
        return
    cell = grid.click_cell(x, y, width)
    if cell is None:
        return
    page = grid.normalize_page(event["url"], site.get("heatmap_keep_params") or ())
    key = _key(site["_id"], "click", page, device, width, _ms(event))
    inc.add(key, "cells." + grid.cell_key(*cell))
    inc.add(key, "total")
    if event.get("selector"):
        inc.add(key, "elements." + grid.field_safe(event["selector"]))


def add_scroll(inc: heatmaps.Increments, site: Document, device: str, event: Document) -> None:
    step = grid.scroll_bucket(
        event.get("depth_share"), event.get("depth_px"), event.get("page_height")
    )
    if step is None or not event.get("url"):
        return
    page = grid.normalize_page(event["url"], site.get("heatmap_keep_params") or ())
    key = _key(site["_id"], "scroll", page, device, event.get("viewport_width"), _ms(event))
    inc.add(key, f"steps.s{step}")
    inc.add(key, "views")


def _ms(event: Document) -> int:
    return int(event["at"].timestamp() * 1000)


async def roll_up_events(db: Database, site: Document, session: Document, *, final: bool) -> int:
    """Add the session's events not yet counted to the rollups; how many were counted."""
    kinds = ["click", "scroll"] if final else ["click"]
    pending = await event_store.not_rolled_up(db, site["_id"], session["session_id"], kinds)
    inc = heatmaps.Increments()
    device = session.get("device_type") or "unknown"
    for event in pending:
        (add_click if event["kind"] == "click" else add_scroll)(inc, site, device, event)
    await heatmaps.apply(db, inc)
    await event_store.mark_rolled_up(db, [e["_id"] for e in pending])
    return len(pending)


class MoveSampler:
    """Follows page, viewport and scroll through a stream and counts pointer positions."""

    def __init__(self, site: Document, device: str) -> None:
        self.site, self.device = site, device
        self.increments = heatmaps.Increments()
        self._url: str | None = None
        self._width: int | None = None
        self._scroll_y = 0.0

    def feed(self, events: Iterable[Any], *, count: bool) -> None:
        for event in events:
            if isinstance(event, dict) and isinstance(event.get("data"), dict):
                self._one(event, event["data"], count)

    def _one(self, event: dict[str, Any], data: dict[str, Any], count: bool) -> None:
        kind = event.get("type")
        if kind == META:
            self._url = data.get("href") if isinstance(data.get("href"), str) else self._url
            self._width = data.get("width") if isinstance(data.get("width"), int) else self._width
            self._scroll_y = 0.0
        elif kind == FULL_SNAPSHOT:
            self._scroll_y = 0.0
        elif kind == INCREMENTAL:
            self._incremental(event, data, count)

    def _incremental(self, event: dict[str, Any], data: dict[str, Any], count: bool) -> None:
        source = data.get("source")
        if source == SCROLL and data.get("id") == 1 and isinstance(data.get("y"), int | float):
            self._scroll_y = float(data["y"])
        elif source == VIEWPORT and isinstance(data.get("width"), int):
            self._width = data["width"]
        elif source == MOVE and count and self._url and self._width:
            self._positions(event, data.get("positions"))

    def _positions(self, event: dict[str, Any], positions: object) -> None:
        if not isinstance(positions, list) or not isinstance(event.get("timestamp"), int):
            return
        assert self._url is not None
        page = grid.normalize_page(self._url, self.site.get("heatmap_keep_params") or ())
        key = _key(self.site["_id"], "move", page, self.device, self._width, event["timestamp"])
        for position in positions:
            if isinstance(position, dict):
                x, y = position.get("x"), position.get("y")
                if isinstance(x, int | float) and isinstance(y, int | float):
                    cell = grid.click_cell(float(x), float(y) + self._scroll_y, self._width or 0)
                    if cell is not None:
                        self.increments.add(key, "cells." + grid.cell_key(*cell))
                        self.increments.add(key, "total")
