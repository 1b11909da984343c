"""Reading a heatmap from its rollups: merge the day buckets of one width band."""

from collections import Counter
from dataclasses import dataclass

from core import heatmaps as grid
from storage import heatmaps
from storage.database import Database, Document


@dataclass(frozen=True)
class HeatmapData:
    band: int
    bands: list[int]
    grid: grid.Grid
    elements: list[tuple[str, int, float]]
    scroll_reach: list[float]
    views: int


def _band_totals(docs: list[Document]) -> Counter[int]:
    totals: Counter[int] = Counter()
    for doc in docs:
        totals[doc["band"]] += doc.get("total", 0) or doc.get("views", 0)
    return totals


def _merged(docs: list[Document], field: str) -> dict[str, int]:
    merged: Counter[str] = Counter()
    for doc in docs:
        merged.update(doc.get(field) or {})
    return dict(merged)


def _scroll(docs: list[Document]) -> tuple[list[float], int]:
    steps = _merged(docs, "steps")
    per_step = {int(key[1:]): count for key, count in steps.items() if key[1:].isdigit()}
    return grid.scroll_reach(per_step), sum(doc.get("views", 0) for doc in docs)


async def read_heatmap(
    db: Database, query: heatmaps.HeatmapQuery, viewport_width: int | None
) -> HeatmapData:
    docs = await heatmaps.read(db, query)
    totals = _band_totals(docs)
    if viewport_width is not None:
        band = grid.width_bucket(viewport_width)
    else:
        band = totals.most_common(1)[0][0] if totals else grid.width_bucket(1280)
    in_band = [d for d in docs if d["band"] == band]
    cells = grid.grid_from_cells(_merged(in_band, "cells"), band)
    elements = {grid.field_unsafe(k): v for k, v in _merged(in_band, "elements").items()}
    reach, views = _scroll(docs) if query.kind == "scroll" else ([], 0)
    return HeatmapData(
        band=band,
        bands=sorted(totals),
        grid=cells,
        elements=grid.top_elements(elements),
        scroll_reach=reach,
        views=views,
    )
