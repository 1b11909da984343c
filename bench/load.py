"""Load test: realistic ingest traffic from a second process while workers run, then a
check that every accepted event is stored, replayable and processed.

    .venv/bin/python -m bench.load [--duration 60] [--api-processes 1] [--workers 1]
                                   [--visitors 30] [--interval 5]

Starts FerretDB and Redis on loopback, `--api-processes` API processes (each
`python -m api` on its own port; the traffic generator sends requests to them
round-robin, as a load balancer would) and `--workers` worker processes
(`python -m workers run`). The traffic generator (`bench.load_client`) runs as
its own process for `--duration` seconds. Then the workers' backlog is drained,
the compaction sweep is triggered once the sessions are quiet, and every
session's replay is compared with the batches the API accepted
(`bench.load_verify`). The figures are printed and merged into
bench/results.json under "load"; the exit status is 1 when an event was lost
or stored twice.
"""

import argparse
import asyncio
import json
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from bench.harness import ROOT, Stack, running_stack, summary_ms
from bench.load_client import DRAIN_S, ORIGIN
from bench.load_verify import verify
from core.config import Settings, load_settings
from storage import recordings, sessions
from storage.database import Database, create_client
from workers.queue import JobQueue
from workers.recording_jobs import sweep_recordings

RESULTS = Path(__file__).resolve().parent / "results.json"
QUIET_S = 10
# The stack's configuration for the run. The ingest limit stays at its default (600
# a minute per site and address): each simulated visitor has its own address
# (X-Forwarded-For, trusted from loopback as from a load balancer), so the limiter is
# consulted on every request but never refuses one. Compaction happens within the run:
# a session is compacted once quiet for 10 s, and a live one every 8 chunks. A session's
# batches are processed together 30 s after the first (default 5 s): each processing run
# re-reads the session from its full snapshot and holds the site's heatmap claim for about
# 100 ms, so at 5 s nearly every batch is its own run and the workers fall behind on a
# busy site (see docs/performance.md, the load drain).
STACK_ENV = {
    "SIGHTLINE_INGEST_RATE_LIMIT": "600/minute",
    "SIGHTLINE_COMPACT_QUIET_S": str(QUIET_S),
    "SIGHTLINE_COMPACT_MAX_CHUNKS": "8",
    "SIGHTLINE_PROCESS_DELAY_S": "30",
    "SIGHTLINE_QUEUE_NAME": "sightline:load",
    # FerretDB scans whole collections and rewrites whole documents on every update:
    # ten jobs per worker mostly wait on each other (and lose their leases).
    "SIGHTLINE_WORKER_MAX_JOBS": "2",
}
DRAIN_TIMEOUT_S = 900
SIGN_UP = (
    'mutation { signUp(email: "load@example.com", password: "load test password", '
    'name: "Load") { token } }'
)
CREATE_SITE = (
    'mutation { createSite(name: "Load", domains: ["127.0.0.1:37047"]) { id trackingKey } }'
)


def say(message: str) -> None:
    print(f"[load] {message}", file=sys.stderr, flush=True)


def create_site(api_url: str) -> tuple[str, str]:
    """A new account and site; returns (site id, tracking key)."""
    with httpx.Client(base_url=api_url, timeout=30) as client:
        answer = client.post("/graphql", json={"query": SIGN_UP}).json()
        headers = {"Authorization": f"Bearer {answer['data']['signUp']['token']}"}
        site = client.post("/graphql", json={"query": CREATE_SITE}, headers=headers).json()
    return site["data"]["createSite"]["id"], site["data"]["createSite"]["trackingKey"]


def run_client(
    api_urls: list[str], key: str, out: Path, *, duration: float, visitors: int, interval: float
) -> dict[str, Any]:
    """The traffic generator in its own process; returns its log."""
    argv = [sys.executable, "-m", "bench.load_client", "--urls", ",".join(api_urls),
            "--key", key, "--out", str(out), "--duration", str(duration),
            "--visitors", str(visitors), "--interval", str(interval)]  # fmt: skip
    subprocess.run(argv, cwd=ROOT, check=True, timeout=duration + DRAIN_S + 120)
    log: dict[str, Any] = json.loads(out.read_bytes())
    return log


@contextmanager
def running_workers(env: dict[str, str], count: int) -> Iterator[list[int]]:
    processes = [
        subprocess.Popen([sys.executable, "-m", "workers", "run"], env=env, cwd=ROOT)
        for _ in range(count)
    ]
    try:
        yield [p.pid for p in processes]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def traffic_figures(log: dict[str, Any]) -> dict[str, Any]:
    """Rates over the traffic window (`--duration`); latencies and counts over every
    request, the retries after the window included."""
    requests, batches = log["requests"], log["batches"]
    window = float(log["plan"]["duration_s"])
    accepted = [b for b in batches if b["outcome"] == "accepted"]
    in_window = [b for b in accepted if 0 < b.get("accepted_at", 0) <= window]
    statuses = Counter(status for _, _, status in requests)
    return {
        "requests": len(requests),
        "last_response_s": round(max((end for end, _, _ in requests), default=0.0), 1),
        "requests_per_s": round(sum(1 for end, _, _ in requests if end <= window) / window, 1),
        "events_accepted": sum(b["count"] for b in accepted),
        "events_per_s": round(sum(b["count"] for b in in_window) / window),
        **summary_ms([latency for _, latency, _ in requests]),
        "statuses": dict(sorted(statuses.items())),
        "errors": sum(n for status, n in statuses.items() if not status.startswith("2")),
        "retries": sum(b["attempts"] - 1 for b in batches),
        "batches_accepted": len(accepted),
        "batches_refused": sum(1 for b in batches if b["outcome"] == "refused"),
        "batches_abandoned": sum(1 for b in batches if b["outcome"] == "abandoned"),
        "sessions": len({b["session_id"] for b in accepted}),
    }


async def _pending(db: Database, queue: JobQueue, query: dict[str, Any], collection: str) -> int:
    return await db[collection].count_documents(query) + await queue.queued_count()


async def _wait_until_empty(
    db: Database, queue: JobQueue, query: dict[str, Any], collection: str
) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < DRAIN_TIMEOUT_S:
        if await _pending(db, queue, query, collection) == 0:
            return round(time.monotonic() - started, 1)
        await asyncio.sleep(0.5)
    return None


async def drain(settings: Settings, db: Database) -> dict[str, float | None]:
    """Time for the workers to process every chunk, then to compact every quiet session
    once the sweep (an arq cron once a minute) is run at once instead of waited for."""
    redis = Redis.from_url(settings.redis_url)
    queue = JobQueue(redis, settings.SIGHTLINE_QUEUE_NAME)
    try:
        backlog = await _wait_until_empty(db, queue, {"processed": False}, recordings.COLLECTION)
        say(f"backlog drained in {backlog} s; sweeping for compaction once sessions are quiet")
        await asyncio.sleep(QUIET_S + 1)
        await sweep_recordings({"db": db, "settings": settings, "queue": queue})
        compaction = await _wait_until_empty(
            db, queue, {"needs_compaction": True}, sessions.COLLECTION
        )
    finally:
        await redis.aclose()
    return {"backlog_drain_s": backlog, "compaction_after_sweep_s": compaction}


async def _after_traffic(
    stack: Stack, site_id: str, log: dict[str, Any], env: dict[str, str]
) -> dict[str, Any]:
    settings = load_settings(env)
    client = create_client(stack.mongodb_url, app_name="bench-load")
    try:
        db = client[stack.database]
        say("traffic done; waiting for the workers to process every chunk")
        drained = await drain(settings, db)
        say("verifying every session's replay")
        checked = await verify(
            db, list(stack.api_urls), settings.secret_key, site_id, log["batches"]
        )
    finally:
        await client.close()
    return {"workers": drained, "verification": checked}


def run(
    duration: float = 60,
    api_processes: int = 1,
    workers: int = 1,
    visitors: int = 30,
    interval: float = 5,
) -> dict[str, Any]:
    env = {**STACK_ENV, "SIGHTLINE_SECRET_KEY": secrets.token_urlsafe(32)}
    with (
        running_stack(extra_env=env, api_processes=api_processes) as stack,
        running_workers(dict(stack.env), workers) as worker_pids,
        tempfile.TemporaryDirectory(prefix="sightline-load-") as tmp,
    ):
        site_id, key = create_site(stack.api_url)
        say(f"{api_processes} API, {workers} workers up; {visitors} visitors for {duration} s")
        log = run_client(list(stack.api_urls), key, Path(tmp) / "client.json",
                         duration=duration, visitors=visitors, interval=interval)  # fmt: skip
        after = asyncio.run(_after_traffic(stack, site_id, log, dict(stack.env)))
        rss = {
            "api": [peak_rss_mb(pid) for pid in stack.api_pids],
            "workers": [peak_rss_mb(pid) for pid in worker_pids],
        }
    return {
        "config": {
            "duration_s": duration,
            "api_processes": api_processes,
            "workers": workers,
            "visitors": visitors,
            "interval_s": interval,
            "origin": ORIGIN,
            "stack_env": STACK_ENV,
        },
        "traffic": traffic_figures(log),
        **after,
        "peak_rss_mb": rss,
    }


def label(result: dict[str, Any]) -> str:
    config = result["config"]
    return f"{config['api_processes']} api + {config['workers']} workers"


def table(result: dict[str, Any]) -> list[str]:
    t, w, v, rss = (result["traffic"], result["workers"], result["verification"],
                    result["peak_rss_mb"])  # fmt: skip
    rows = [
        ("configuration", f"{label(result)}, {result['config']['visitors']} visitors, "
                          f"{result['config']['duration_s']} s"),
        ("requests/s", f"{t['requests_per_s']} ({t['requests']} requests, the last "
                       f"answered at {t['last_response_s']} s)"),
        ("events/s accepted", f"{t['events_per_s']} ({t['events_accepted']} events)"),
        ("latency", f"p50 {t['p50_ms']} ms, p99 {t['p99_ms']} ms"),
        ("statuses", ", ".join(f"{k}: {n}" for k, n in t["statuses"].items())),
        ("errors / retries", f"{t['errors']} / {t['retries']}"),
        ("batches", f"{t['batches_accepted']} accepted, {t['batches_refused']} refused, "
                    f"{t['batches_abandoned']} abandoned, {t['sessions']} sessions"),
        ("events lost", f"{v['events_lost']} ({v['batches_lost']} batches)"),
        ("duplicates / altered", f"{v['duplicates']} / {v['altered']}"),
        ("no extracted events", f"{v['sessions_without_extracted_events']} sessions"),
        ("backlog drain", f"{_seconds(w['backlog_drain_s'])}, compaction after sweep "
                          f"{_seconds(w['compaction_after_sweep_s'])}"),
        ("peak RSS (MB)", f"api {rss['api']}, workers {rss['workers']}"),
    ]  # fmt: skip
    return [f"{name:<22}{value}" for name, value in rows]


def _seconds(value: float | None) -> str:
    return f"{value} s" if value is not None else f"not within {DRAIN_TIMEOUT_S} s"


def passed(result: dict[str, Any]) -> bool:
    v = result["verification"]
    return v["events_lost"] == 0 and v["duplicates"] == 0 and v["replay_failures"] == 0


def keyed(result: dict[str, Any]) -> dict[str, Any]:
    return {label(result): result}


def save(result: dict[str, Any]) -> None:
    """Merge into bench/results.json under "load", keyed by the configuration."""
    saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    saved.setdefault("load", {}).update(keyed(result))
    RESULTS.write_text(json.dumps(saved, indent=2, default=str) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--api-processes", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--visitors", type=int, default=30)
    parser.add_argument("--interval", type=float, default=5)
    args = parser.parse_args()
    result = run(args.duration, args.api_processes, args.workers, args.visitors, args.interval)
    save(result)
    print("\n".join(table(result)))
    print(json.dumps(result, indent=2, default=str))
    return 0 if passed(result) else 1


if __name__ == "__main__":
    sys.exit(main())
