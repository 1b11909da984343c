"""`make bench`: every benchmark, results in bench/results.json.

    .venv/bin/python -m bench [--size quick|large] [--skip NAME ...]

Each benchmark starts its own FerretDB and Redis (and API process where it
needs one) on loopback, so runs do not disturb each other.
"""

import argparse
import asyncio
import json
import os
import platform
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import analytics, ingest, load, privacy, workers

RESULTS = Path(__file__).resolve().parent / "results.json"
SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "quick": {
        "ingest": {"sessions": 100, "events_per_session": 400, "batch_size": 50, "concurrency": 8},
        "workers": {"raw_mb": 50},
        "analytics": {"events": 100_000, "sessions": 2_000, "repeat": 3},
        "privacy": {"n_sessions": 10},
        "load": {"duration": 20, "api_processes": 1, "workers": 1},
    },
    "large": {
        "ingest": {
            "sessions": 1000,
            "events_per_session": 400,
            "batch_size": 50,
            "concurrency": 16,
        },
        "workers": {"raw_mb": 200},
        "analytics": {"events": 1_000_000, "sessions": 20_000, "repeat": 3},
        "privacy": {"n_sessions": 50},
        "load": {"duration": 60, "api_processes": 2, "workers": 3},
    },
}
RUNNERS: dict[str, Callable[..., Any]] = {
    "ingest": lambda **kw: asyncio.run(ingest.run(**kw)),
    "workers": workers.run,
    "analytics": lambda **kw: asyncio.run(analytics.run_async(**kw)),
    "privacy": lambda **kw: asyncio.run(privacy.run_async(**kw)),
    "load": lambda **kw: load.keyed(load.run(**kw)),
}


def _table(results: dict[str, Any]) -> list[str]:
    lines = _main_rows(results) if {"ingest", "workers", "analytics"} <= results.keys() else []
    for result in results.get("load", {}).values():
        lines += ["", *load.table(result)]
    return lines


def _main_rows(results: dict[str, Any]) -> list[str]:
    ing, wrk, ana = results["ingest"], results["workers"], results["analytics"]
    api, floor, comp = ing["api"], ing["insert_many"], wrk["compaction"]
    funnel, heat = ana["funnel_4_steps"], ana["click_heatmap_read"]
    rows = [
        (
            "POST /ingest",
            f"{api['events_per_s']} events/s, p50 {api['p50_ms']} ms, p99 {api['p99_ms']} ms",
        ),
        ("insert_many (floor)", f"{floor['events_per_s']} events/s, p99 {floor['p99_ms']} ms"),
        (
            "compaction",
            f"{comp['mb_per_s']} MB/s (plain zstd {wrk['plain_zstd']['mb_per_s']} MB/s)",
        ),
        ("compaction worker peak", f"{comp['worker_peak_rss_mb']} MB RSS for {comp['raw_mb']} MB"),
        ("extraction", f"{wrk['extraction']['events_per_s']} events/s"),
        ("funnel, 4 steps", f"{funnel['median_ms']} ms median, p99 {funnel['p99_ms']} ms"),
        ("funnel, in memory", f"{ana['funnel_in_memory_reference']['median_ms']} ms median"),
        ("click heatmap read", f"{heat['median_ms']} ms median, p99 {heat['p99_ms']} ms"),
    ]
    return [f"{label:<26}{value}" for label, value in rows]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="quick")
    parser.add_argument("--skip", action="append", default=[], choices=sorted(RUNNERS))
    args = parser.parse_args()
    results: dict[str, Any] = {
        "size": args.size,
        "ran_at": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    for name, options in SIZES[args.size].items():
        if name in args.skip:
            continue
        print(f"[{name}] {options} …", flush=True)
        results[name] = RUNNERS[name](**options)
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print("\n" + "\n".join(_table(results)) + f"\n\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
