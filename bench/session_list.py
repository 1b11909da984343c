"""A `sessions` page of 50, newest first, read hour by hour, as the site grows.

    .venv/bin/python -m bench.session_list [--sizes 20000 200000] [--repeat N]

Session documents are inserted directly (as ingestion leaves them, start hour
and hour markers included), one every 37 s, into one site; at each size the first
page and a page further on (through the first page's cursor) are read with
`storage.session_search.search_sessions`, and the first page also with
`scan_sessions`, the one sorted query every list ran before (a few repeats: it
reads every session).
"""

import argparse
import asyncio
import json
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.graphql_overhead import _session, insert_sessions
from bench.harness import percentile, running_stack
from storage.database import Database, create_client
from storage.errors import STORAGE_TIMEOUTS
from storage.indexes import ensure_indexes
from storage.session_search import Position, SessionFilter, scan_sessions, search_sessions

PAGE = 50
SITE = "6b0b91e55d5cf409b79cc124"


async def _grow(db: Database, rng: random.Random, have: int, want: int) -> None:
    for first in range(have, want, 5000):
        docs = [_session(rng, SITE, n) for n in range(first, min(want, first + 5000))]
        await insert_sessions(db, SITE, docs)


async def _median_ms(repeat: int, read: Callable[[], Awaitable[int]]) -> dict[str, Any]:
    samples, timeouts = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        try:
            assert await read() == PAGE + 1, "the page came back short"
        except STORAGE_TIMEOUTS:
            timeouts += 1
        samples.append(time.perf_counter() - started)
    return {
        "median_ms": round(statistics.median(samples) * 1000, 2),
        "p99_ms": round(percentile(samples, 0.99) * 1000, 2),
        "timeouts": timeouts,
    }


async def _measure(db: Database, repeat: int) -> dict[str, Any]:
    every = SessionFilter()
    first = await search_sessions(db, SITE, every, limit=PAGE + 1)
    cursor = Position(first[PAGE - 1]["started_at"], first[PAGE - 1]["_id"])
    deeper = Position(first[-1]["started_at"], first[-1]["_id"])
    for _ in range(20):  # twenty pages in
        page = await search_sessions(db, SITE, every, after=deeper, limit=PAGE)
        deeper = Position(page[-1]["started_at"], page[-1]["_id"])

    async def hours(after: Position | None) -> int:
        return len(await search_sessions(db, SITE, every, after=after, limit=PAGE + 1))

    async def scan() -> int:
        return len(await scan_sessions(db, SITE, every, limit=PAGE + 1))

    return {
        "first_page": await _median_ms(repeat, lambda: hours(None)),
        "second_page": await _median_ms(repeat, lambda: hours(cursor)),
        "page_21": await _median_ms(repeat, lambda: hours(deeper)),
        "sorted_query_before": await _median_ms(3, scan),
    }


async def run_async(sizes: list[int], repeat: int) -> dict[str, Any]:
    results: dict[str, Any] = {"page_size": PAGE}
    with running_stack(api=False) as stack:
        mongo = create_client(stack.mongodb_url, app_name="bench")
        db = mongo[stack.database]
        await ensure_indexes(db)  # an empty database: the start-hour migration is done
        rng, have = random.Random(5), 0
        for size in sorted(sizes):
            await _grow(db, rng, have, size)
            have = size
            results[str(size)] = await _measure(db, repeat)
        await mongo.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run_async(args.sizes, args.repeat)), indent=2))


if __name__ == "__main__":
    main()
