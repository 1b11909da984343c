"""Reading a heatmap from its rollups: merge the day buckets of one width band.

The days' cell grids are added as arrays (`core.heatmap_counts`); the few named counters
(elements, scroll steps, views) as counters by name.
"""

from collections import Counter
from dataclasses import dataclass

from core import heatmaps as grid
from core.heatmap_counts import Counts
from storage import heatmaps
from storage.database import Database, Document


@dataclass(frozen=True)
class HeatmapData:
    band: int
    bands: list[int]
    grid: grid.Grid
    elements: dict[str, int]  # clicks per `core.elements.element_key`
    scroll_reach: list[float]
    views: int


def _band_totals(buckets: dict[heatmaps.BucketKey, int]) -> Counter[int]:
    totals: Counter[int] = Counter()
    for key, weight in buckets.items():
        totals[key.band] += weight
    return totals


def _merged(docs: list[Document]) -> Counts:
    merged = Counts()
    for doc in docs:
        heatmaps.counts_of(doc, merged)
    return merged


def _scroll(counts: Counts) -> tuple[list[float], int]:
    steps = counts.in_family("steps")
    per_step = {int(key[1:]): count for key, count in steps.items() if key[1:].isdigit()}
    return grid.scroll_reach(per_step), counts.named["views"]


def _chosen_band(totals: Counter[int], viewport_width: int | None) -> int:
    if viewport_width is not None:
        return grid.width_bucket(viewport_width)
    return totals.most_common(1)[0][0] if totals else grid.width_bucket(1280)


async def read_heatmap(
    db: Database, query: heatmaps.HeatmapQuery, viewport_width: int | None
) -> HeatmapData:
    buckets = await heatmaps.buckets(db, query)
    totals = _band_totals(buckets)
    band = _chosen_band(totals, viewport_width)
    scroll = query.kind == "scroll"
    # Scroll reach counts every band; grids and elements only the chosen one.
    docs = await heatmaps.fetch(db, (k for k in buckets if scroll or k.band == band))
    in_band = _merged([d for d in docs if d["band"] == band])
    cells = grid.grid_from_array(in_band.cells, band)
    elements = {grid.field_unsafe(k): v for k, v in in_band.in_family("elements").items()}
    reach, views = _scroll(_merged(docs)) if scroll else ([], 0)
    return HeatmapData(
        band=band,
        bands=sorted(totals),
        grid=cells,
        elements=elements,
        scroll_reach=reach,
        views=views,
    )
