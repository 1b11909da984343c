"""A real Sightline on loopback for benchmarks: its own PostgreSQL, FerretDB, Redis and API."""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

from scripts.local_services import (
    free_port,
    postgresql_database,
    start_ferretdb,
    start_postgresql,
    start_redis,
)

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Stack:
    api_url: str
    mongodb_url: str
    redis_url: str
    database: str
    # With several API processes: every process's URL and pid (a load balancer's view).
    api_urls: tuple[str, ...] = ()
    api_pids: tuple[int, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


def _wait_healthy(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the API did not become healthy")


@contextmanager
def running_stack(
    *, api: bool = True, extra_env: dict[str, str] | None = None, api_processes: int = 1
) -> Iterator[Stack]:
    """PostgreSQL, FerretDB and Redis on free ports in a temporary folder, plus `api_processes`
    API processes, each on its own port (as replicas behind a load balancer would be)."""
    with tempfile.TemporaryDirectory(prefix="sightline-bench-") as tmp:
        base = Path(tmp)
        base.chmod(0o755)  # as root, PostgreSQL runs as a system user that must reach its data
        postgresql = start_postgresql(base / "postgresql", free_port())
        storage = postgresql_database(postgresql, "ferretdb")
        mongo = start_ferretdb(storage, free_port(), base / "ferretdb.log")
        redis = start_redis(base / "redis", free_port())
        env = {
            **os.environ,
            "MONGODB_URL": mongo.url,
            "REDIS_URL": redis.url,
            "MONGODB_DATABASE": "bench",
            "SIGHTLINE_ENV": "development",
            "SIGHTLINE_LOG_LEVEL": "WARNING",
            "SIGHTLINE_INGEST_RATE_LIMIT": "1000000/minute",
            **(extra_env or {}),
        }
        processes: list[subprocess.Popen[bytes]] = []
        urls: list[str] = []
        try:
            for _ in range(api_processes if api else 0):
                port = free_port()
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "api"],
                        env={**env, "SIGHTLINE_PORT": str(port)},
                        cwd=ROOT,
                    )
                )
                urls.append(f"http://127.0.0.1:{port}")
            for url in urls:
                _wait_healthy(url)
            first = urls[0] if urls else f"http://127.0.0.1:{free_port()}"
            yield Stack(
                first, mongo.url, redis.url, "bench",
                tuple(urls), tuple(p.pid for p in processes), env,
            )  # fmt: skip
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(15)
            redis.stop()
            mongo.stop()
            postgresql.stop()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(latencies_s: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(median(latencies_s) * 1000, 2) if latencies_s else 0.0,
        "p99_ms": round(percentile(latencies_s, 0.99) * 1000, 2),
    }


def run_sized_bench(
    description: str | None,
    run: Callable[[int, int, int], Coroutine[Any, Any, object]],
    *,
    repeat_flag: str = "--repeat",
    repeat: int = 5,
) -> None:
    """The command line of a bench over `--events` events in `--sessions` sessions, measured
    `repeat_flag` times: runs `run(events, sessions, repeats)` and prints its JSON."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=2_000)
    parser.add_argument(repeat_flag, dest="repeat", type=int, default=repeat)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.events, args.sessions, args.repeat)), indent=2))
