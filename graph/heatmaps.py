"""Heatmaps: clicks, mouse movement and scroll depth of a page, from rollups."""

from enum import StrEnum

import strawberry

from core import heatmaps as grid
from graph.context import Context
from graph.int_arrays import int_array
from graph.ownership import owned_site
from graph.ranges import TimeRange
from graph.selectors import SelectorMatch, element_selector
from service.heatmaps import heatmap_query
from storage.heatmap_reads import HeatmapData, read_heatmap


@strawberry.enum(description="What a heatmap counts.")
class HeatmapKind(StrEnum):
    CLICK = "click"
    MOVE = "move"
    SCROLL = "scroll"


@strawberry.type
class HeatmapElement:
    selector: str
    count: int
    share: float = strawberry.field(description="Share of all clicks in the heatmap, 0 to 1.")


@strawberry.type(
    description="A heatmap of one page. Clicks and moves are counted on a grid of 64 columns "
    "across the viewport and square rows down the page (`cellPx` CSS px each), per width band."
)
class Heatmap:
    page: str
    kind: HeatmapKind
    device: str | None
    viewport_band: int = strawberry.field(description="Lower bound of the width band, CSS px.")
    bands: list[int] = strawberry.field(description="Width bands that have data in the range.")
    columns: int
    rows: int
    cell_px: float
    total: int
    max_count: int
    cells: list[int] = strawberry.field(
        description="Packed [column, row, count, column, row, count, ...], by row then column."
    )
    elements: strawberry.Private[dict[str, int]]
    scroll_reach: list[float] = strawberry.field(
        description="For scroll heatmaps: the share of page views that reached each 5 % step "
        "of the page (20 values, 0 % to 95 %)."
    )
    views: int = strawberry.field(description="For scroll heatmaps: page views counted.")

    @classmethod
    def of(cls, page: str, kind: HeatmapKind, device: str | None, data: HeatmapData) -> "Heatmap":
        return cls(
            page=page,
            kind=kind,
            device=device,
            viewport_band=data.band,
            bands=data.bands,
            columns=data.grid.columns,
            rows=data.grid.rows,
            cell_px=data.grid.cell_px,
            total=data.grid.total if kind != HeatmapKind.SCROLL else data.views,
            max_count=data.grid.max_count,
            cells=int_array(data.grid.packed()),
            elements=data.elements,
            scroll_reach=[round(r, 4) for r in data.scroll_reach],
            views=data.views,
        )

    @strawberry.field(
        description="The 20 most clicked elements; given `selector`, the 20 most clicked of "
        "those it matches."
    )
    def top_elements(
        self, selector: str | None = None, selector_match: SelectorMatch = SelectorMatch.CSS
    ) -> list[HeatmapElement]:
        wanted = None if selector is None else element_selector(selector, selector_match)
        return [
            HeatmapElement(selector=s, count=c, share=round(f, 4))
            for s, c, f in grid.top_elements(self.elements, wanted=wanted)
        ]


@strawberry.type
class HeatmapQueryType:
    @strawberry.field(description="A page's click, move or scroll heatmap over a time range.")
    async def heatmap(
        self,
        info: strawberry.Info[Context, None],
        site_id: strawberry.ID,
        url: str,
        range: TimeRange,
        kind: HeatmapKind | None = None,
        device: str | None = None,
        viewport_width: int | None = None,
    ) -> Heatmap:
        site = await owned_site(info.context, str(site_id))
        chosen = HeatmapKind(kind) if kind else HeatmapKind.CLICK
        query = heatmap_query(site["_id"], url, chosen.value, device, range.start, range.end)
        data = await read_heatmap(info.context.db, query, viewport_width)
        return Heatmap.of(query.page, chosen, device, data)
