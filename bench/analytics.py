"""Funnel and heatmap latency on a generated site, next to an in-memory reference.

    .venv/bin/python -m bench.analytics [--events N] [--sessions N] [--repeat N]

Sessions walk a shop (home → product → add to cart → checkout) and drop off at
random; their events are written to the events collection, and their funnel blocks
folded per day, as the extraction worker writes them. The 4-step funnel is computed the
way the API computes it (the range's blocks read, then evaluated as columns) and, as the
reference, by the event-by-event evaluation over the events already in memory. The click
heatmap is built into rollups the way workers build it and read back; its read must not
grow with the number of events (run with two sizes to see it).
"""

import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import ExecutionTimeout

from bench import progress
from bench.harness import percentile, run_sized_bench, running_stack
from core import heatmaps as grid
from core.epoch import epoch_ms
from core.event_columns import Block, BlockSession, session_block, split_by_day
from core.funnel_columns import Scope, evaluate
from core.funnels import (
    EventType,
    FunnelAccumulator,
    FunnelDefinition,
    MatchOp,
    Step,
    StepMatcher,
    Unit,
    UnitEvents,
    UrlMatcher,
)
from storage import event_blocks, heatmaps
from storage import events as event_store
from storage.database import Database, create_client
from storage.heatmap_reads import read_heatmap
from storage.indexes import ensure_indexes
from workers.heatmap_rollup import add_click

SITE = {"_id": "bench-site"}
START = datetime(2026, 11, 1, tzinfo=UTC)
PAGES = ["/", "/product", "/cart", "/checkout"]
# Sessions spread over the same 14 days at every size, so a larger run has more events per
# day, not more days: the heatmap read should then stay flat.
SPREAD_MINUTES = 14 * 24 * 60
FUNNEL = FunnelDefinition(
    steps=(
        Step(EventType.PAGE_VIEW, StepMatcher(url=UrlMatcher("path", MatchOp.EQUALS, "/"))),
        Step(EventType.PAGE_VIEW, StepMatcher(url=UrlMatcher("path", MatchOp.EQUALS, "/product"))),
        Step(EventType.CLICK, StepMatcher(selector="button#add")),
        Step(
            EventType.PAGE_VIEW, StepMatcher(url=UrlMatcher("path", MatchOp.CONTAINS, "checkout"))
        ),
    )
)


def _session_events(
    rng: random.Random, n: int, per_session: int, sessions: int
) -> list[dict[str, Any]]:
    at = START + timedelta(minutes=n * SPREAD_MINUTES // sessions)
    session, visitor = f"s{n:07d}", f"v{n // 2:07d}"
    events, page = [], 0
    for i in range(per_session):
        at += timedelta(seconds=rng.randint(1, 20))
        if i % 8 == 0 and page < len(PAGES) and rng.random() < 0.8:
            kind, path, selector = "page_view", PAGES[page], None
            page += 1
        else:
            kind, path = "click", PAGES[max(page - 1, 0)]
            selector = (
                "button#add" if rng.random() < 0.3 else f"div.item:nth-of-type({rng.randint(1, 9)})"
            )
        events.append(
            {
                "_id": f"bench-site:{session}:{kind}:{i}",
                "site_id": "bench-site",
                "session_id": session,
                "visitor_id": visitor,
                "kind": kind,
                "at": at,
                "url": "http://shop.example" + path,
                "path": path,
                "selector": selector,
                "x": rng.uniform(0, 1280),
                "y": rng.uniform(0, 3000),
                "viewport_width": 1280,
            }
        )
    return events


def generate(events: int, sessions: int, seed: int = 3) -> list[list[dict[str, Any]]]:
    rng = random.Random(seed)
    per_session = max(1, events // sessions)
    numbers = progress.track(range(sessions), "generating sessions", sessions)
    return [_session_events(rng, n, per_session, sessions) for n in numbers]


async def _store(db: Database, by_session: list[list[dict[str, Any]]]) -> None:
    batch: list[dict[str, Any]] = []
    for events in progress.track(by_session, "storing events", len(by_session)):
        batch.extend(events)
        if len(batch) >= 10_000:
            await db[event_store.COLLECTION].insert_many(batch, ordered=False)
            batch = []
    if batch:
        await db[event_store.COLLECTION].insert_many(batch, ordered=False)
    await _store_blocks(db, by_session)
    inc = heatmaps.Increments()
    for events in by_session:
        for event in events:
            if event["kind"] == "click":
                add_click(inc, SITE, "desktop", event)
    await heatmaps.apply(db, inc)


async def _store_blocks(db: Database, by_session: list[list[dict[str, Any]]]) -> None:
    """The funnel blocks extraction would have folded: one per session and day, per day."""
    by_day: dict[int, list[Block]] = {}
    for events in progress.track(by_session, "building event blocks", len(by_session)):
        first = events[0]
        owner = BlockSession(
            first["session_id"], first["visitor_id"], 1, {"device_type": "desktop"}
        )
        for day, block in split_by_day(session_block(owner, events)).items():
            by_day.setdefault(day, []).append(block)
    for day, blocks in by_day.items():
        await event_blocks.fold_sessions(db, "bench-site", day, blocks)


async def _funnel_from_storage(db: Database) -> int:
    """As the API computes it: the range's blocks read, then evaluated."""
    acc = FunnelAccumulator(FUNNEL)
    end = START + timedelta(days=60)
    block = await event_blocks.read_range(db, "bench-site", START, end)
    evaluate(acc, block, Scope(epoch_ms(START), epoch_ms(end), Unit.SESSIONS, {}))
    return acc.result().steps[-1].entered


def _funnel_in_memory(by_session: list[list[dict[str, Any]]]) -> int:
    acc = FunnelAccumulator(FUNNEL)
    for events in by_session:
        acc.add(UnitEvents(events[0]["session_id"], events[0]["session_id"], None, events))
    return acc.result().steps[-1].entered


HEATMAP_PAGE = "/product"


def _heatmap_in_memory(by_session: list[list[dict[str, Any]]]) -> dict[tuple[int, int], int]:
    """The product page's click grid counted straight from the events."""
    cells: dict[tuple[int, int], int] = {}
    for events in by_session:
        for event in events:
            if event["kind"] == "click" and event["path"] == HEATMAP_PAGE:
                cell = grid.click_cell(event["x"], event["y"], event["viewport_width"])
                if cell is not None:
                    cells[cell] = cells.get(cell, 0) + 1
    return cells


async def _timed(repeat: int, work: Any) -> tuple[dict[str, float], Any]:
    samples, value = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        value = await work()
        samples.append(time.perf_counter() - started)
    return {
        "median_ms": round(statistics.median(samples) * 1000, 1),
        "p99_ms": round(percentile(samples, 0.99) * 1000, 1),
    }, value


async def run_async(events: int, sessions: int, repeat: int) -> dict[str, Any]:
    by_session = generate(events, sessions)
    with running_stack(api=False) as stack:
        client = create_client(stack.mongodb_url, app_name="bench")
        db = client[stack.database]
        await ensure_indexes(db)
        started = time.perf_counter()
        await _store(db, by_session)
        load_s = time.perf_counter() - started

        async def memory() -> int:
            return _funnel_in_memory(by_session)

        reference, expected = await _timed(repeat, memory)
        try:
            funnel, converted = await _timed(repeat, lambda: _funnel_from_storage(db))
        except ExecutionTimeout:
            # The query bound (maxTimeMS) a GraphQL request runs under, reached.
            funnel, converted = (
                {"median_ms": -1.0, "p99_ms": -1.0, "exceeded_time_limit": 1},
                expected,
            )
        query = heatmaps.HeatmapQuery(
            "bench-site",
            "click",
            "shop.example" + HEATMAP_PAGE,
            None,
            START,
            START + timedelta(days=60),
        )
        heatmap, data = await _timed(max(repeat, 20), lambda: read_heatmap(db, query, 1280))

        async def heatmap_in_memory() -> dict[tuple[int, int], int]:
            return _heatmap_in_memory(by_session)

        heatmap_reference, cells = await _timed(repeat, heatmap_in_memory)
        rollups = await db[heatmaps.COLLECTION].count_documents({"day": {"$exists": True}})
        await client.close()
    assert converted == expected, "storage and in-memory funnels disagree"
    assert data.grid.counts == cells, "storage and in-memory heatmaps disagree"
    ratio = funnel["median_ms"] / max(reference["median_ms"], 0.1)
    return {
        "events": sum(len(s) for s in by_session),
        "sessions": sessions,
        "load_seconds": round(load_s, 1),
        "funnel_4_steps": {**funnel, "converted": converted},
        "funnel_in_memory_reference": reference,
        "funnel_ratio_to_reference": None if funnel.get("exceeded_time_limit") else round(ratio, 1),
        "click_heatmap_read": {**heatmap, "clicks": data.grid.total, "rollup_documents": rollups},
        "click_heatmap_in_memory_reference": heatmap_reference,
    }


def main() -> None:
    run_sized_bench(__doc__, run_async)


if __name__ == "__main__":
    main()
