"""Maintaining heatmap rollups from a session's derived events and mouse moves.

Clicks are rolled up as soon as they are derived; scroll depth only when the
session is final (its depth can still grow until then); mouse moves are sampled
from chunks the first time they are processed. This module only counts: what a run
counted is written, with the marks that keep it from being counted twice, by the
run's own commit (`workers.run_commit`).
"""

from collections.abc import Iterable
from typing import Any

from core import heatmaps as grid
from core.elements import element_key
from core.epoch import day_of, epoch_ms
from core.rrweb.events import EventType, IncrementalSource
from storage import events as event_store
from storage import heatmaps
from storage.database import Document
from storage.sessions import SessionDocument
from storage.sites import SiteDocument
from workers.run_commit import RunCommit


def _key(
    site_id: str, kind: str, page: str, device: str, width: int | None, at: int
) -> heatmaps.BucketKey:
    return heatmaps.BucketKey(site_id, kind, page, device, grid.width_bucket(width), day_of(at))


def add_click(inc: heatmaps.Increments, site: SiteDocument, device: str, event: Document) -> None:
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
        element = element_key(event["selector"], event.get("element_path"))
        inc.add(key, "elements." + grid.field_safe(element))


def add_scroll(inc: heatmaps.Increments, site: SiteDocument, device: str, event: Document) -> None:
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
    return epoch_ms(event["at"])


def add_events(
    site: SiteDocument,
    session: SessionDocument,
    run: RunCommit,
    stored: event_store.SessionEvents,
    *,
    final: bool,
) -> None:
    """Add the session's derived events not yet counted (as the run wrote them) to `run`."""
    kinds = ["click", "scroll"] if final else ["click"]
    pending = stored.not_rolled_up(kinds)
    device = session.get("device_type") or "unknown"
    for event in pending:
        add = add_click if event["kind"] == "click" else add_scroll
        add(run.increments, site, device, event)
    run.event_ids.extend(e["_id"] for e in pending)


class MoveSampler:
    """Follows page, viewport and scroll through a stream and counts pointer positions."""

    def __init__(self, site: SiteDocument, device: str) -> None:
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
        if kind == EventType.Meta:
            self._url = data.get("href") if isinstance(data.get("href"), str) else self._url
            self._width = data.get("width") if isinstance(data.get("width"), int) else self._width
            self._scroll_y = 0.0
        elif kind == EventType.FullSnapshot:
            self._scroll_y = 0.0
        elif kind == EventType.IncrementalSnapshot:
            self._incremental(event, data, count)

    def _incremental(self, event: dict[str, Any], data: dict[str, Any], count: bool) -> None:
        source = data.get("source")
        if (
            source == IncrementalSource.Scroll
            and data.get("id") == 1
            and isinstance(data.get("y"), int | float)
        ):
            self._scroll_y = float(data["y"])
        elif source == IncrementalSource.ViewportResize and isinstance(data.get("width"), int):
            self._width = data["width"]
        elif source == IncrementalSource.MouseMove and count and self._url and self._width:
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
