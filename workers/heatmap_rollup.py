"""Maintaining heatmap rollups from a session's derived events and mouse moves.

Clicks are rolled up as soon as they are derived; scroll depth only when the
session is final (its depth can still grow until then); mouse moves are sampled
from chunks the first time they are processed. Each derived event carries a
`rolled_up` mark and each chunk a `processed` mark, so reprocessing a session
counts nothing twice; `commit` makes counting and marking one step that a
worker killed half-way through is finished by the next run, never repeated.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core import heatmaps as grid
from core.elements import element_key
from core.epoch import day_of, epoch_ms
from core.rrweb.events import EventType, IncrementalSource
from storage import events as event_store
from storage import heatmaps, recordings, sessions
from storage.crash_points import crash_point
from storage.database import Database, Document
from storage.ids import seq_of_chunk_key
from storage.sessions import RollupPending, SessionDocument
from storage.sites import SiteDocument


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


@dataclass
class Rollup:
    """What one processing run adds to the heatmaps, and the marks that say it was added."""

    increments: heatmaps.Increments
    chunk_ids: list[str]
    event_ids: list[str] = field(default_factory=list)


def add_events(
    site: SiteDocument,
    session: SessionDocument,
    rollup: Rollup,
    stored: event_store.SessionEvents,
    *,
    final: bool,
) -> None:
    """Add the session's derived events not yet counted (as the run wrote them) to `rollup`."""
    kinds = ["click", "scroll"] if final else ["click"]
    pending = stored.not_rolled_up(kinds)
    device = session.get("device_type") or "unknown"
    for event in pending:
        add = add_click if event["kind"] == "click" else add_scroll
        add(rollup.increments, site, device, event)
    rollup.event_ids.extend(e["_id"] for e in pending)


async def commit(db: Database, session: SessionDocument, rollup: Rollup) -> None:
    """Count `rollup` exactly once, even when the worker dies at any point of this.

    The rollup is first written on the session, then applied under a fresh token
    (`heatmaps.apply_once`), then its events and chunks are marked; the next run on
    the session finishes a rollup a dead worker left (`finish_interrupted`).
    """
    if not (rollup.increments or rollup.event_ids or rollup.chunk_ids):
        return
    pending: RollupPending = {
        "token": uuid.uuid4().hex,
        "buckets": heatmaps.to_document(rollup.increments),
        "events": rollup.event_ids,
        "chunks": rollup.chunk_ids,
        "counted": False,
    }
    await sessions.set_rollup_pending(db, session["_id"], pending)
    await _finish(db, session, pending)


async def finish_interrupted(db: Database, session: SessionDocument) -> None:
    """Finish the rollup a worker that died left on the session (under its lease)."""
    pending = session.get("heatmap_pending")
    if pending:
        await _finish(db, session, pending)


async def _finish(db: Database, session: SessionDocument, pending: RollupPending) -> None:
    increments = heatmaps.from_document(pending["buckets"])
    key, site_id = session["_id"], session["site_id"]
    if not pending["counted"]:
        await heatmaps.apply_once(db, pending["token"], increments)
        crash_point("heatmaps.counted")
        session_id = session["session_id"]
        await event_store.mark_rolled_up(db, site_id, session_id, pending["events"])
        seqs = [seq_of_chunk_key(chunk) for chunk in pending["chunks"]]
        await recordings.mark_processed(db, site_id, session_id, seqs)
        await sessions.mark_rollup_counted(db, key)
    await heatmaps.forget(db, pending["token"], list(increments.by_bucket))
    await sessions.clear_rollup_pending(db, key)


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
