"""The click heatmap read alone, for before/after comparisons across versions.

    .venv/bin/python -m bench.heatmap_read [--events N] [--sessions N] [--reads N]

Uses only what every version has (`bench.analytics.generate`/`_store`,
`storage.heatmap_reads.read_heatmap`), so the same file can be copied into an
older checkout and run there with that checkout's code. A read that reaches its
query time limit counts as a failed read.
"""

import statistics
import time
from datetime import timedelta
from typing import Any

from pymongo.errors import ExecutionTimeout

from bench import analytics
from bench.harness import percentile, run_sized_bench, running_stack
from storage import heatmaps
from storage.database import create_client
from storage.heatmap_reads import read_heatmap
from storage.indexes import ensure_indexes


async def run_async(events: int, sessions: int, reads: int) -> dict[str, Any]:
    by_session = analytics.generate(events, sessions)
    samples: list[float] = []
    failed, clicks = 0, None
    with running_stack(api=False) as stack:
        client = create_client(stack.mongodb_url, app_name="bench")
        db = client[stack.database]
        await ensure_indexes(db)
        await analytics._store(db, by_session)
        end = analytics.START + timedelta(days=60)
        query = heatmaps.HeatmapQuery(
            "bench-site", "click", "shop.example/product", None, analytics.START, end
        )
        for _ in range(reads):
            started = time.perf_counter()
            try:
                clicks = (await read_heatmap(db, query, 1280)).grid.total
            except ExecutionTimeout:
                failed += 1
                continue
            samples.append(time.perf_counter() - started)
        await client.close()
    return {
        "events": events,
        "reads": reads,
        "failed_reads": failed,
        "median_ms": round(statistics.median(samples) * 1000, 1) if samples else None,
        "p99_ms": round(percentile(samples, 0.99) * 1000, 1) if samples else None,
        "clicks": clicks,
    }


def main() -> None:
    run_sized_bench(__doc__, run_async, repeat_flag="--reads", repeat=30)


if __name__ == "__main__":
    main()
