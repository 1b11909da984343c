"""The page a derived event happened on: its URL, viewport, document scroll and height, and
the deepest point of it the visitor saw."""

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from core.derived_events import DerivedEvent, Kind
from workers.extraction.selector import Target


def path_of(url: str) -> str:
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return "/"


@dataclass(slots=True)
class Page:
    """One page view (a page load or a single-page-app navigation). `depth_px` is the largest
    `scroll_y + viewport_height` seen, None while the viewport height is unknown."""

    started_at: int
    scroll_ordinal: int
    url: str | None = None
    viewport_width: int | None = None
    viewport_height: int | None = None
    page_height: int | None = None
    scroll_x: float = 0.0
    scroll_y: float = 0.0
    depth_px: int | None = None

    @property
    def path(self) -> str | None:
        return None if self.url is None else path_of(self.url)

    def following(self, started_at: int, scroll_ordinal: int, url: str) -> "Page":
        """The page a single-page-app navigation leads to: same viewport and scroll, with the
        depth measured again and the document height unknown until reported."""
        page = replace(
            self, started_at=started_at, scroll_ordinal=scroll_ordinal, url=url, page_height=None
        )
        page.depth_px = None
        page.measure()
        return page

    def scroll_to(self, x: float, y: float) -> None:
        self.scroll_x, self.scroll_y = x, y
        self.measure()

    def resize(self, width: int, height: int) -> None:
        self.viewport_width, self.viewport_height = width, height
        self.measure()

    def measure(self) -> None:
        if self.viewport_height is None:
            return
        seen = round(max(self.scroll_y, 0.0)) + self.viewport_height
        self.depth_px = seen if self.depth_px is None else max(self.depth_px, seen)

    def event(self, kind: Kind, timestamp: int, ordinal: int, **fields: Any) -> DerivedEvent:
        """A derived event on this page, carrying its URL, viewport and height."""
        return DerivedEvent(
            kind=kind,
            timestamp=timestamp,
            ordinal=ordinal,
            url=self.url,
            path=self.path,
            viewport_width=self.viewport_width,
            viewport_height=self.viewport_height,
            page_height=self.page_height,
            **fields,
        )

    def target_event(
        self, kind: Kind, timestamp: int, ordinal: int, target: Target | None, **fields: Any
    ) -> DerivedEvent:
        """A derived event about an element (selector, text, tag, link, field type)."""
        if target is None:
            return self.event(kind, timestamp, ordinal, **fields)
        return self.event(
            kind,
            timestamp,
            ordinal,
            selector=target.selector or None,
            element_path=target.path or None,
            text=target.text,
            text_masked=target.text_masked,
            tag=target.tag or None,
            href=target.href,
            field_type=target.field_type,
            **fields,
        )

    def page_x(self, client_x: float) -> float:
        return float(client_x + self.scroll_x)

    def page_y(self, client_y: float) -> float:
        return float(client_y + self.scroll_y)

    def scroll_event(self) -> DerivedEvent | None:
        """The scroll depth of this page view, stamped with its start; None when unknown."""
        if self.depth_px is None:
            return None
        share = None
        if self.page_height:
            share = round(min(1.0, self.depth_px / self.page_height), 4)
        return self.event(
            Kind.SCROLL,
            self.started_at,
            self.scroll_ordinal,
            depth_px=self.depth_px,
            depth_share=share,
        )
