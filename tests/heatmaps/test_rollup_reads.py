"""Heatmap rollups written and read back through their `_id`-addressed catalog (real FerretDB).

Random clicks and scroll depths are rolled up the way workers roll them up; every read must
equal the same heatmap counted directly from the events in memory, whatever the range,
device or width band asked for. Rollups written before catalogs existed are found again
once start-up has run its migration.
"""

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from core import heatmaps as grid
from storage import heatmaps
from storage.database import Database, Document
from storage.heatmap_reads import read_heatmap
from storage.indexes import ensure_indexes
from workers.heatmap_rollup import add_click, add_scroll

SITE: Document = {"_id": "site-h"}
START = datetime(2026, 3, 1, tzinfo=UTC)
START_MS = int(START.timestamp() * 1000)
DEVICES = ("desktop", "mobile", "tablet")
WIDTHS = (390, 800, 1280, 1920)
PAGES = ("http://shop.example/", "http://shop.example/cart")


def _clicks(rng: random.Random, n: int) -> list[tuple[str, Document]]:
    out = []
    for _ in range(n):
        event = {
            "url": rng.choice(PAGES),
            "x": rng.uniform(0, 380),
            "y": rng.uniform(0, 2000),
            "viewport_width": rng.choice(WIDTHS),
            "selector": rng.choice(["a#buy", "div.x", "button.go"]),
            "at": START + timedelta(hours=rng.uniform(0, 24 * 6)),
        }
        out.append((rng.choice(DEVICES), event))
    return out


def _expected_cells(
    clicks: list[tuple[str, Document]], page: str, device: str | None, band: int, days: range
) -> Counter[tuple[int, int]]:
    counts: Counter[tuple[int, int]] = Counter()
    for dev, event in clicks:
        day = (event["at"] - START).days
        width = event["viewport_width"]
        if grid.normalize_page(event["url"]) != page or day not in days:
            continue
        if (device is None or dev == device) and grid.width_bucket(width) == band:
            cell = grid.click_cell(event["x"], event["y"], width)
            assert cell is not None
            counts[cell] += 1
    return counts


async def _roll_up(db: Database, clicks: list[tuple[str, Document]]) -> None:
    for start in range(0, len(clicks), 50):  # several batches, as a worker writes them
        inc = heatmaps.Increments()
        for device, event in clicks[start : start + 50]:
            add_click(inc, SITE, device, event)
        await heatmaps.apply(db, inc)


def _query(page: str, device: str | None, first_day: int, last_day: int) -> heatmaps.HeatmapQuery:
    return heatmaps.HeatmapQuery(
        "site-h",
        "click",
        grid.normalize_page(page),
        device,
        START + timedelta(days=first_day),
        START + timedelta(days=last_day + 1),
    )


async def test_reads_equal_the_counts_of_the_events_for_every_range_device_and_band(
    db: Database,
) -> None:
    clicks = _clicks(random.Random(11), 600)
    await _roll_up(db, clicks)
    for page in PAGES:
        for device in (None, *DEVICES):
            for first, last in ((0, 5), (2, 3), (4, 4)):
                for width in WIDTHS:
                    band = grid.width_bucket(width)
                    data = await read_heatmap(db, _query(page, device, first, last), width)
                    key = grid.normalize_page(page)
                    expected = _expected_cells(clicks, key, device, band, range(first, last + 1))
                    assert data.grid.counts == dict(expected), (page, device, first, last, width)


async def test_without_a_width_the_band_with_most_clicks_is_read_and_all_bands_listed(
    db: Database,
) -> None:
    clicks = _clicks(random.Random(5), 300)
    await _roll_up(db, clicks)
    page = grid.normalize_page(PAGES[0])
    per_band = Counter(
        grid.width_bucket(e["viewport_width"])
        for _, e in clicks
        if grid.normalize_page(e["url"]) == page
    )
    data = await read_heatmap(db, _query(PAGES[0], None, 0, 6), None)
    assert data.band == per_band.most_common(1)[0][0]
    assert data.bands == sorted(per_band)
    assert data.grid.total == per_band[data.band]


async def test_scroll_reach_counts_every_band(db: Database) -> None:
    inc = heatmaps.Increments()
    for width, share in ((390, 1.0), (1280, 0.5), (1920, 0.26)):
        event = {"url": PAGES[0], "viewport_width": width, "depth_share": share, "at": START}
        add_scroll(inc, SITE, "desktop", event)
    await heatmaps.apply(db, inc)
    query = heatmaps.HeatmapQuery("site-h", "scroll", grid.normalize_page(PAGES[0]), None,
                                  START, START + timedelta(days=1))  # fmt: skip
    data = await read_heatmap(db, query, 1280)
    assert data.views == 3
    assert data.scroll_reach[0] == 1.0
    assert data.scroll_reach[10] == 2 / 3  # 50 %: reached by two of the three views
    assert data.scroll_reach[19] == 1 / 3


async def _write_without_catalog(db: Database, clicks: list[tuple[str, Document]]) -> None:
    """Rollups as written before catalogs existed: the rollup documents alone."""
    inc = heatmaps.Increments()
    for device, event in clicks:
        add_click(inc, SITE, device, event)
    for key, counters in inc.by_bucket.items():
        await db[heatmaps.COLLECTION].update_one(
            {"_id": key.doc_id}, {"$setOnInsert": key.identity(), "$inc": counters}, upsert=True
        )


async def test_rollups_written_before_catalogs_are_read_after_the_startup_migration(
    db: Database,
) -> None:
    clicks = _clicks(random.Random(7), 200)
    await _write_without_catalog(db, clicks[:150])
    page = grid.normalize_page(PAGES[1])
    before = await read_heatmap(db, _query(PAGES[1], None, 0, 6), 1280)
    assert before.grid.total == 0  # invisible until the migration has run

    await ensure_indexes(db)
    await ensure_indexes(db)  # a second start-up changes nothing
    await _roll_up(db, clicks[150:])  # and new clicks add to the migrated entries

    band = grid.width_bucket(1280)
    expected = _expected_cells(clicks, page, None, band, range(7))
    after = await read_heatmap(db, _query(PAGES[1], None, 0, 6), 1280)
    assert after.grid.counts == dict(expected)
    assert sum(expected.values()) > 0


async def test_folding_many_batches_keeps_every_count(db: Database) -> None:
    clicks = _clicks(random.Random(3), 400)
    await _write_without_catalog(db, clicks[:100])  # legacy fields, folded in as well
    await ensure_indexes(db)
    for device, event in clicks[100:]:  # one batch per click: many deltas per rollup
        inc = heatmaps.Increments()
        add_click(inc, SITE, device, event)
        await heatmaps.apply(db, inc)

    rollups = await db[heatmaps.COLLECTION].find({"day": {"$exists": True}}).to_list(None)
    assert max(len(doc.get("deltas", [])) for doc in rollups) < heatmaps.FOLD_AT
    assert any("cells" not in doc for doc in rollups)  # some legacy fields were folded away
    for page in PAGES:
        for width in WIDTHS:
            band = grid.width_bucket(width)
            expected = _expected_cells(clicks, grid.normalize_page(page), None, band, range(7))
            data = await read_heatmap(db, _query(page, None, 0, 6), width)
            assert data.grid.counts == dict(expected)


async def test_folds_racing_with_writers_lose_nothing(db: Database) -> None:
    clicks = [(d, {**e, "at": START}) for d, e in _clicks(random.Random(9), 80)]
    clicks = [(d, {**e, "viewport_width": 1280, "url": PAGES[0]}) for d, e in clicks]

    async def write(device: str, event: Document) -> None:
        inc = heatmaps.Increments()
        add_click(inc, SITE, device, event)
        await heatmaps.apply(db, inc)

    await write(*clicks[0])
    ids = [
        doc["_id"] for doc in await db[heatmaps.COLLECTION].find({"day": START_MS}).to_list(None)
    ]
    folds = [heatmaps.fold(db, doc_id) for doc_id in ids for _ in range(10)]
    await asyncio.gather(*(write(*c) for c in clicks[1:]), *folds)

    expected = _expected_cells(clicks, grid.normalize_page(PAGES[0]), None, 1280, range(1))
    data = await read_heatmap(db, _query(PAGES[0], None, 0, 0), 1280)
    assert data.grid.counts == dict(expected)
    assert data.grid.total == 80


async def test_the_same_counts_are_stored_as_the_same_bytes_in_any_order(db: Database) -> None:
    """Workers apply batches in whatever order they run; a folded rollup must not tell which."""
    clicks = _clicks(random.Random(5), 200)
    stored = []
    for order in (clicks, clicks[::-1]):
        await db[heatmaps.COLLECTION].delete_many({})
        await _roll_up(db, order)
        rollups = db[heatmaps.COLLECTION].find({"day": {"$exists": True}})
        ids = [doc["_id"] async for doc in rollups]
        for doc_id in ids:
            await heatmaps.fold(db, doc_id)
        folded = db[heatmaps.COLLECTION].find({"day": {"$exists": True}})
        stored.append({doc["_id"]: doc["deltas"] async for doc in folded})
    assert stored[0] == stored[1]
