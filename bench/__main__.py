"""`make bench`: every benchmark, results in bench/results.json.

.venv/bin/python -m bench [--size quick|large]
"""

import argparse
import asyncio
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import ingest

RESULTS = Path(__file__).resolve().parent / "results.json"
SIZES: dict[str, dict[str, Any]] = {
    "quick": {
        "ingest": {"sessions": 100, "events_per_session": 400, "batch_size": 50, "concurrency": 8}
    },
    "large": {
        "ingest": {"sessions": 1000, "events_per_session": 400, "batch_size": 50, "concurrency": 16}
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="quick")
    args = parser.parse_args()
    size = SIZES[args.size]
    print(f"ingest: {size['ingest']}", flush=True)
    results = {
        "size": args.size,
        "ran_at": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "ingest": asyncio.run(ingest.run(**size["ingest"])),
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    api, raw = results["ingest"]["api"], results["ingest"]["insert_many"]
    print(f"\n{'benchmark':<28}{'events/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for label, row in (("POST /ingest", api), ("insert_many (floor)", raw)):
        print(f"{label:<28}{row['events_per_s']:>10}{row['p50_ms']:>10}{row['p99_ms']:>10}")
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
