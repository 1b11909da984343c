"""The worker's side of the load test, measured alone: what one processing run costs.

    .venv/bin/python -m bench.processing [--sessions 20] [--batches 12] [--per-run 1]

Sessions shaped like `bench.load`'s (the real recording, 60-180 events a batch) are sent
through the API a round at a time; after every `--per-run` rounds each session gets one
processing run, as the `process_session` job runs it (`--per-run 1`: a run per batch, the
product's 5 s debounce at the snippet's 5 s flush; 6: the 30 s one), and a final run plus
compaction once the last batch is in. Less noisy than the load test's drain time on a shared
machine: database round trips per run (PyMongo's command monitoring) and the rrweb events
processed per CPU second of this process, which runs the jobs in place of a worker.
"""

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from pymongo import monitoring

from bench.harness import running_stack
from bench.load import STACK_ENV, create_site
from bench.load_client import ORIGIN, PAGE_URL, batch_events
from core.config import load_settings
from storage.database import create_client
from workers import recording_jobs

BATCH_EVENTS = 120


@dataclass
class Commands(monitoring.CommandListener):
    """Counts the commands sent while armed, by name."""

    armed: bool = False
    counts: Counter[str] = field(default_factory=Counter)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.armed and event.command_name not in ("endSessions", "killCursors"):
            self.counts[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@dataclass
class Tally:
    runs: int = 0
    events: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    commands: Counter[str] = field(default_factory=Counter)


async def _send(client: httpx.AsyncClient, key: str, session: int, seq: int, start: int) -> None:
    payload = {
        "key": key,
        "visitor_id": f"bench-v{session}",
        "session_id": f"bench-s{session:04d}",
        "seq": seq,
        "page": {"url": PAGE_URL, "title": "Acme Shop"},
        "events": batch_events(start, seq * BATCH_EVENTS, BATCH_EVENTS),
    }
    answer = await client.post(f"/ingest?key={key}", json=payload, headers={"Origin": ORIGIN})
    answer.raise_for_status()


async def _timed(tally: Tally, listener: Commands, work: Any) -> None:
    cpu, wall = time.process_time(), time.perf_counter()
    listener.armed = True
    try:
        await work
    finally:
        listener.armed = False
    tally.cpu_s += time.process_time() - cpu
    tally.wall_s += time.perf_counter() - wall
    tally.runs += 1


async def _measure(
    env: dict[str, str], api_url: str, sessions: int, batches: int, per_run: int
) -> dict[str, Any]:
    settings = load_settings(env)
    site_id, key = create_site(api_url)
    listener = Commands()
    mongo = create_client(settings.mongodb_url, app_name="bench-processing", listeners=[listener])
    ctx = {"db": mongo[settings.MONGODB_DATABASE], "settings": settings, "job_try": 1}
    live, final = Tally(), Tally()
    start, sent = int(time.time() * 1000), 0
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
        for seq in range(batches):
            for n in range(sessions):
                await _send(client, key, n, seq, start)
            if (seq + 1) % per_run and seq + 1 < batches:
                continue
            for n in range(sessions):
                work = recording_jobs.process_session(ctx, site_id, f"bench-s{n:04d}")
                await _timed(live, listener, work)
            live.events += sessions * BATCH_EVENTS * (seq + 1 - sent)
            sent = seq + 1
    live.commands, listener.counts = listener.counts, Counter()
    for n in range(sessions):
        work = recording_jobs.compact_session(ctx, site_id, f"bench-s{n:04d}")
        await _timed(final, listener, work)
    final.commands = listener.counts
    await mongo.close()
    return {"live": _figures(live), "final_and_compaction": _figures(final)}


def _figures(tally: Tally) -> dict[str, Any]:
    runs = max(tally.runs, 1)
    figures: dict[str, Any] = {
        "runs": tally.runs,
        "round_trips_per_run": round(sum(tally.commands.values()) / runs, 1),
        "by_command_per_run": {
            name: round(count / runs, 1) for name, count in tally.commands.most_common()
        },
        "wall_ms_per_run": round(1000 * tally.wall_s / runs, 1),
        "cpu_ms_per_run": round(1000 * tally.cpu_s / runs, 1),
    }
    if tally.events:
        figures["events_per_cpu_s"] = round(tally.events / tally.cpu_s)
    return figures


def run(sessions: int, batches: int, per_run: int) -> dict[str, Any]:
    env = {**STACK_ENV, "SIGHTLINE_QUEUE_NAME": "sightline:bench-processing"}
    with running_stack(extra_env=env) as stack:
        measured = _measure(dict(stack.env), stack.api_url, sessions, batches, per_run)
        figures = asyncio.run(measured)
    config = {"sessions": sessions, "batches": batches, "per_run": per_run,
              "batch_events": BATCH_EVENTS}  # fmt: skip
    return {"config": config, **figures}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--per-run", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps(run(args.sessions, args.batches, args.per_run), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
