"""Heatmap reads against a brute-force count of the raw events (real FerretDB).

Random workloads (several seeds, days, pages, devices, width bands, clicks and scroll
depths) are written in every layout rollups have had, mixed within one rollup: one field
per counter (before packed deltas), JSON deltas (before `core.heatmap_counts`), the binary
form, and folds of any mix of them. Every read, for every page, kind, device, range and
width, must equal what counting the events says, in every part of the result (band, bands,
grid, elements, scroll reach, views); every rollup document's counters (cells, elements,
steps, `total`, `views`) must equal its events' counts; and a rollup's cells cost at most a
byte per cell of the rows it spans, whatever its layout was.
"""

import random
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from bson import Binary

from core import heatmaps as grid
from core.elements import element_key
from storage import heatmaps
from storage.database import Database, Document
from storage.heatmap_reads import HeatmapData, read_heatmap
from workers.heatmap_rollup import add_click, add_scroll

SITE: Document = {"_id": "site-x"}
START = datetime(2026, 5, 1, tzinfo=UTC)
DAYS = 4
DEVICES = ("desktop", "mobile", "tablet")
WIDTHS = (390, 800, 1280, 1920)
PAGES = ("http://shop.example/", "http://shop.example/cart")
RANGES = ((0, DAYS - 1), (1, 2), (3, 3))
Event = tuple[str, str, Document]  # kind, device, event
Writer = Callable[[Database, heatmaps.Increments], Awaitable[None]]


def _events(rng: random.Random, n: int, *, busy: bool = False) -> list[Event]:
    """`n` events spread over pages, devices, widths and days; `busy`: all on one page,
    device, width and day, so that its rollups fill most cells of the rows they span."""
    pages, devices, widths = (PAGES[:1], DEVICES[:1], (1280,)) if busy else (PAGES, DEVICES, WIDTHS)
    out: list[Event] = []
    for _ in range(n):
        kind = rng.choice(("click", "click", "scroll"))
        event = {
            "url": rng.choice(pages),
            "x": rng.uniform(0, 400),
            "y": rng.uniform(0, 1500),
            "viewport_width": rng.choice(widths),
            "selector": rng.choice(["a#buy", "div.x", "button.go", None]),
            "element_path": rng.choice([None, "body>div:nth-of-type(2)>a"]),
            "depth_share": rng.choice([rng.random(), 1.0, 0.0]),
            "at": START + timedelta(hours=rng.uniform(0, 24 if busy else 24 * DAYS)),
        }
        out.append((kind, rng.choice(devices), event))
    return out


def _increments(events: list[Event]) -> heatmaps.Increments:
    inc = heatmaps.Increments()
    for kind, device, event in events:
        (add_click if kind == "click" else add_scroll)(inc, SITE, device, event)
    return inc


async def _as_fields(db: Database, inc: heatmaps.Increments) -> None:
    """The first layout: one `$inc` field per counter, no catalog."""
    for key, counters in inc.by_bucket.items():
        await db[heatmaps.COLLECTION].update_one(
            {"_id": key.doc_id}, {"$setOnInsert": key.identity(), "$inc": counters}, upsert=True
        )


async def _as_json_deltas(db: Database, inc: heatmaps.Increments) -> None:
    """The second layout: a JSON map of counter names pushed per batch, and the catalog."""
    for key, counters in inc.by_bucket.items():
        delta = Binary(orjson.dumps(counters, option=orjson.OPT_SORT_KEYS))
        await db[heatmaps.COLLECTION].update_one(
            {"_id": key.doc_id},
            {"$setOnInsert": key.identity(), "$push": {"deltas": delta}, "$inc": {"n": 1}},
            upsert=True,
        )
        page = {"site_id": key.site_id, "kind": key.kind, "page": key.page, "catalog": True}
        weight = counters.get("total", 0) + counters.get("views", 0)
        await db[heatmaps.COLLECTION].update_one(
            {"_id": key.catalog_id},
            {"$setOnInsert": page, "$inc": {"entries." + key.entry: weight}},
            upsert=True,
        )


async def _write_mixed(db: Database, rng: random.Random, events: list[Event]) -> None:
    """A quarter in the first layout (then its catalogs, as start-up builds them), the rest
    in batches of the JSON and the binary layout in random order, with folds between."""
    first = len(events) // 4
    await _as_fields(db, _increments(events[:first]))
    await heatmaps.build_catalogs(db)
    writers: tuple[Writer, ...] = (_as_json_deltas, heatmaps.apply)
    for start in range(first, len(events), 25):
        await rng.choice(writers)(db, _increments(events[start : start + 25]))
        if rng.random() < 0.3:
            docs = await db[heatmaps.COLLECTION].find({"day": {"$exists": True}}).to_list(None)
            await heatmaps.fold(db, rng.choice(docs)["_id"])


def _key(kind: str, device: str, event: Document) -> heatmaps.BucketKey | None:
    inc = heatmaps.Increments()
    (add_click if kind == "click" else add_scroll)(inc, SITE, device, event)
    return next(iter(inc.by_bucket), None)


def _counted(events: list[Event]) -> dict[heatmaps.BucketKey, Counter[str]]:
    """Each rollup's counters, counted event by event with `core.heatmaps` alone."""
    out: dict[heatmaps.BucketKey, Counter[str]] = {}
    for kind, device, event in events:
        key = _key(kind, device, event)
        if key is None:
            continue
        counts = out.setdefault(key, Counter())
        if kind == "click":
            cell = grid.click_cell(event["x"], event["y"], event["viewport_width"])
            assert cell is not None
            counts["cells." + grid.cell_key(*cell)] += 1
            counts["total"] += 1
            if event["selector"]:
                element = element_key(event["selector"], event["element_path"])
                counts["elements." + grid.field_safe(element)] += 1
        else:
            step = grid.scroll_bucket(event["depth_share"], None, None)
            counts[f"steps.s{step}"] += 1
            counts["views"] += 1
    return out


def _expected(
    counted: dict[heatmaps.BucketKey, Counter[str]], query: heatmaps.HeatmapQuery, band: int
) -> HeatmapData:
    wanted = {key: counts for key, counts in counted.items() if query.wants(key)}
    wanted = {k: c for k, c in wanted.items() if (k.site_id, k.kind, k.page) == (
        query.site_id, query.kind, query.page)}  # fmt: skip
    cells: Counter[tuple[int, int]] = Counter()
    elements: Counter[str] = Counter()
    steps: Counter[int] = Counter()
    for key, counts in wanted.items():
        for name, count in counts.items():
            family, _, rest = name.partition(".")
            if key.band == band and family == "cells":
                cells[grid.parse_cell_key(rest) or (-1, -1)] += count
            elif key.band == band and family == "elements":
                elements[grid.field_unsafe(rest)] += count
            elif family == "steps":
                steps[int(rest[1:])] += count
    scroll = query.kind == "scroll"
    rows = max((row for _, row in cells), default=-1) + 1
    return HeatmapData(
        band=band,
        bands=sorted({key.band for key in wanted}),
        grid=grid.Grid(grid.GRID_COLUMNS, rows, grid.band_cell_px(band), dict(cells)),
        elements=dict(elements),
        scroll_reach=grid.scroll_reach(steps) if scroll else [],
        views=sum(steps.values()) if scroll else 0,
    )


def _band_weights(
    counted: dict[heatmaps.BucketKey, Counter[str]], query: heatmaps.HeatmapQuery
) -> Counter[int]:
    weights: Counter[int] = Counter()
    for key, counts in counted.items():
        if (key.kind, key.page) == (query.kind, query.page) and query.wants(key):
            weights[key.band] += counts["total"] + counts["views"]
    return weights


def _query(
    kind: str, page: str, device: str | None, first: int, last: int
) -> heatmaps.HeatmapQuery:
    return heatmaps.HeatmapQuery(
        "site-x",
        kind,
        grid.normalize_page(page),
        device,
        START + timedelta(days=first),
        START + timedelta(days=last + 1),
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_every_read_equals_the_brute_force_count_whatever_the_layouts(
    db: Database, seed: int
) -> None:
    rng = random.Random(seed)
    events = _events(rng, 900)
    await _write_mixed(db, rng, events)
    counted = _counted(events)
    for kind in ("click", "scroll"):
        for page in PAGES:
            for device in (None, *DEVICES):
                for first, last in RANGES:
                    query = _query(kind, page, device, first, last)
                    for width in (None, *WIDTHS):
                        data = await read_heatmap(db, query, width)
                        if width is None:  # the band with most data (ties: any of them)
                            weights = _band_weights(counted, query)
                            assert weights[data.band] == max(weights.values(), default=0)
                        band = data.band if width is None else grid.width_bucket(width)
                        assert data == _expected(counted, query, band), (query, width)


@pytest.mark.parametrize(("seed", "busy"), [(4, False), (5, True), (6, True)])
async def test_every_rollup_holds_its_events_counts_compactly_whatever_the_layouts(
    db: Database, seed: int, busy: bool
) -> None:
    rng = random.Random(seed)
    events = _events(rng, 3000 if busy else 1500, busy=busy)
    await _write_mixed(db, rng, events)
    counted = _counted(events)
    docs = await db[heatmaps.COLLECTION].find({"day": {"$exists": True}}).to_list(None)
    assert len(docs) == len(counted)
    for doc in docs:
        await heatmaps.fold(db, doc["_id"])
    for doc in await db[heatmaps.COLLECTION].find({"day": {"$exists": True}}).to_list(None):
        key = heatmaps.BucketKey(*(doc[f] for f in ("site_id", "kind", "page", "device", "band",
                                                      "day")))  # fmt: skip
        assert heatmaps.counters(doc) == counted[key], key
        rows = max((grid.parse_cell_key(n[6:]) or (0, -1))[1] for n in counted[key]) + 1
        named = {n: c for n, c in counted[key].items() if not n.startswith("cells.")}
        budget = rows * grid.GRID_COLUMNS + len(orjson.dumps(named)) + 64
        assert sum(len(delta) for delta in doc["deltas"]) <= budget, key
