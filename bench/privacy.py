"""How long privacy requests take: erasing, exporting and scanning one visitor's data.

    .venv/bin/python -m bench.privacy [--sessions N]

One visitor with N sessions (each the real shop recording, processed into events)
among other visitors' sessions; each request is run by the worker code directly.
"""

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

from bench.harness import running_stack
from bench.workload import session_events
from storage import privacy_requests, recordings, sessions
from storage.database import Database, create_client
from storage.indexes import ensure_indexes
from workers import processing
from workers.privacy import run_privacy_request

SECRET = b"bench-secret-bench-secret-bench-secret"
SITE = "bench-site"
NOW = datetime.now(UTC)


async def _session(db: Database, session_id: str, visitor_id: str, start_ms: int) -> None:
    events = session_events(0, 400, start_ms)
    for seq in range(0, len(events), 50):
        chunk = events[seq : seq + 50]
        await recordings.insert_chunk(
            db, recordings.ChunkMeta(SITE, session_id, visitor_id, seq // 50, NOW), chunk
        )
    first, last = events[0]["timestamp"], events[-1]["timestamp"]
    summary = sessions.BatchSummary(
        SITE, session_id, visitor_id, 0, first, last, len(events), [], [], None, {}, {}
    )
    await sessions.record_batch(db, summary, None)
    await processing.process_session(db, SITE, session_id, final=True)


async def _timed(db: Database, kind: str, parameters: dict[str, Any]) -> dict[str, Any]:
    request = await privacy_requests.create_request(
        db, kind=kind, subject_hash="", requested_by="bench", site_id=SITE, parameters=parameters
    )
    started = time.perf_counter()
    await run_privacy_request(db, SECRET, request["_id"])
    elapsed = time.perf_counter() - started
    done = await privacy_requests.find_request(db, request["_id"])
    return {
        "seconds": round(elapsed, 2),
        "removed": (done or {}).get("removed"),
        "outcome": (done or {}).get("outcome"),
    }


async def run_async(n_sessions: int) -> dict[str, Any]:
    with running_stack(api=False) as stack:
        client = create_client(stack.mongodb_url, app_name="bench")
        db = client[stack.database]
        await ensure_indexes(db)
        await db["sites"].insert_one(
            {"_id": SITE, "deleted_at": None, "domains": [], "privacy": {}}
        )
        for n in range(n_sessions):
            await _session(
                db, f"target-{n:04d}", "target-visitor", 1_795_000_000_000 + n * 3_600_000
            )
            await _session(db, f"other-{n:04d}", "other-visitor", 1_795_000_000_000 + n * 3_600_000)
        window = {
            "from": datetime(2020, 1, 1, tzinfo=UTC).isoformat(),
            "to": datetime(2030, 1, 1, tzinfo=UTC).isoformat(),
        }
        result = {
            "sessions_of_visitor": n_sessions,
            "export_visitor": await _timed(db, "export_visitor", {"visitor_id": "target-visitor"}),
            "scan_recordings": await _timed(db, "scan_recordings", {**window, "redact": False}),
            "erase_visitor": await _timed(db, "erase_visitor", {"visitor_id": "target-visitor"}),
        }
        result["scan_recordings"]["outcome"] = {
            k: v for k, v in (result["scan_recordings"]["outcome"] or {}).items() if k != "findings"
        }
        await client.close()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=20)
    print(json.dumps(asyncio.run(run_async(parser.parse_args().sessions)), indent=2, default=str))


if __name__ == "__main__":
    main()
