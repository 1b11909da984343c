"""`make bench`: every benchmark, results in bench/results.json and a summary table.

    .venv/bin/python -m bench [--size quick|large|xl] [--only STEP ...] [--profile]

Each benchmark starts its own FerretDB and Redis (and API process where it
needs one) on loopback, so runs do not disturb each other. `quick` (the default)
takes a few minutes; `large` runs the big sizes (1M events for funnels and
heatmaps); `xl` runs the sizes the scaling targets are stated at (docs/performance.md:
1M events and 20k sessions for funnels and heatmaps, 200k sessions for the session list,
100 visitors for 60 s on one API and two workers). `--profile` writes a pyinstrument
profile of each step's own process to bench/profiles/STEP.txt.
"""

import argparse
import asyncio
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    analytics,
    graphql_overhead,
    ingest,
    load,
    privacy,
    progress,
    session_list,
    summary,
    workers,
)

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
PROFILES = HERE / "profiles"


@dataclass(frozen=True)
class Step:
    """One benchmark: its runner and its options at each size (None: skipped at that size)."""

    name: str
    run: Callable[..., dict[str, Any]]
    quick: dict[str, Any] | None
    large: dict[str, Any] | None
    xl: dict[str, Any] | None = None


STEPS: list[Step] = [
    Step(
        "ingest",
        lambda **kw: asyncio.run(ingest.run(**kw)),
        {"sessions": 100, "events_per_session": 400, "batch_size": 50, "concurrency": 8},
        {"sessions": 1000, "events_per_session": 400, "batch_size": 50, "concurrency": 16},
        {"sessions": 1000, "events_per_session": 400, "batch_size": 50, "concurrency": 16},
    ),
    Step("workers", workers.run, {"raw_mb": 50}, {"raw_mb": 200}),
    Step(
        "analytics_100k",
        lambda **kw: asyncio.run(analytics.run_async(**kw)),
        {"events": 100_000, "sessions": 2_000, "repeat": 3},
        {"events": 100_000, "sessions": 2_000, "repeat": 3},
        {"events": 100_000, "sessions": 2_000, "repeat": 5},
    ),
    Step(
        "analytics_1m",
        lambda **kw: asyncio.run(analytics.run_async(**kw)),
        None,
        {"events": 1_000_000, "sessions": 20_000, "repeat": 3},
        {"events": 1_000_000, "sessions": 20_000, "repeat": 5},
    ),
    Step(
        "graphql_overhead",
        lambda **kw: asyncio.run(graphql_overhead.run_async(**kw)),
        {"sessions": 2_000, "repeat": 20},
        {"sessions": 20_000, "repeat": 20},
    ),
    Step(
        "session_list",
        lambda **kw: asyncio.run(session_list.run_async(**kw)),
        {"sizes": [2_000, 20_000], "repeat": 10},
        {"sizes": [20_000, 200_000], "repeat": 20},
        {"sizes": [20_000, 200_000], "repeat": 20},
    ),
    Step(
        "privacy",
        lambda **kw: asyncio.run(privacy.run_async(**kw)),
        {"n_sessions": 10},
        {"n_sessions": 50},
    ),
    Step(
        "load",
        lambda **kw: load.keyed(load.run(**kw)),
        {"duration": 20, "api_processes": 1, "workers": 1},
        {"duration": 60, "api_processes": 2, "workers": 3},
        {"duration": 60, "api_processes": 1, "workers": 2, "visitors": 100},
    ),
]


def _run_step(step: Step, options: dict[str, Any], profile: bool) -> dict[str, Any]:
    if not profile:
        return step.run(**options)
    from pyinstrument import Profiler

    profiler = Profiler()
    with profiler:
        result = step.run(**options)
    PROFILES.mkdir(exist_ok=True)
    (PROFILES / f"{step.name}.txt").write_text(profiler.output_text(unicode=True))
    return result


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=("quick", "large", "xl"), default="quick")
    parser.add_argument("--only", nargs="+", choices=[s.name for s in STEPS], default=None)
    parser.add_argument("--profile", action="store_true")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    chosen = [
        (step, options)
        for step in STEPS
        if (options := getattr(step, args.size)) is not None
        and (args.only is None or step.name in args.only)
    ]
    results: dict[str, Any] = {
        "size": args.size,
        "ran_at": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "seconds": {},
        "failed": {},
    }
    with progress.suite() as bar:
        suite_task = bar.add_task("bench", total=len(chosen))
        for step, options in chosen:
            bar.update(suite_task, description=f"{step.name} {options}")
            started = time.perf_counter()
            try:
                results[step.name] = _run_step(step, options, args.profile)
            except Exception as exc:  # one failed step must not lose the others
                results["failed"][step.name] = repr(exc)
            results["seconds"][step.name] = round(time.perf_counter() - started, 1)
            bar.advance(suite_task)
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    summary.print_table(results)
    for name, error in results["failed"].items():
        print(f"{name} failed: {error}")
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
