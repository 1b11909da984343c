"""Worker throughput: compaction MB/s next to plain zstd, extraction events/s, and the
worker's peak memory compacting one long session.

    .venv/bin/python -m bench.workers [--raw-mb N]

A long session of about `--raw-mb` megabytes of rrweb JSON is written as raw
chunks straight through the storage layer, then compacted by a separate worker
process whose peak resident memory is read from the kernel afterwards.
"""

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import zstandard

from bench.harness import ROOT, running_stack
from bench.workload import session_events
from core.signal_settings import SignalSettings
from storage import recordings
from storage.database import create_client
from storage.indexes import ensure_indexes
from workers.extraction.extractor import Extractor

SITE = "bench-site"
SESSION = "bench-long-session"
CHUNK_EVENTS = 1000


def _chunks(raw_mb: int) -> list[list[dict[str, Any]]]:
    per_event = len(orjson.dumps(session_events(0, 2000, 0))) / 2000
    total = int(raw_mb * 2**20 / per_event)
    events = session_events(0, total, 1_795_000_000_000)
    return [events[i : i + CHUNK_EVENTS] for i in range(0, len(events), CHUNK_EVENTS)]


def _plain_zstd(chunks: list[list[dict[str, Any]]]) -> dict[str, float]:
    raw = b"".join(orjson.dumps(c) for c in chunks)
    started = time.perf_counter()
    compressed = zstandard.ZstdCompressor(level=3).compress(raw)
    elapsed = time.perf_counter() - started
    return {"raw_mb": round(len(raw) / 2**20, 1), "mb_per_s": round(len(raw) / 2**20 / elapsed, 1),
            "ratio": round(len(raw) / len(compressed), 1)}  # fmt: skip


def _extraction(chunks: list[list[dict[str, Any]]]) -> dict[str, float]:
    extractor = Extractor(SignalSettings())
    started = time.perf_counter()
    derived = 0
    for chunk in chunks:
        derived += len(extractor.feed(chunk))
    derived += len(extractor.finish(True))
    elapsed = time.perf_counter() - started
    events = sum(len(c) for c in chunks)
    return {"events": events, "derived": derived, "events_per_s": round(events / elapsed)}


async def _store(mongodb_url: str, database: str, chunks: list[list[dict[str, Any]]]) -> None:
    client = create_client(mongodb_url, app_name="bench")
    db = client[database]
    await ensure_indexes(db)
    await db["sites"].insert_one({"_id": SITE, "deleted_at": None, "domains": []})
    await db["sessions"].insert_one(
        {"_id": f"{SITE}:{SESSION}", "site_id": SITE, "session_id": SESSION, "visitor_id": "v"}
    )
    for seq, chunk in enumerate(chunks):
        meta = recordings.ChunkMeta(SITE, SESSION, "v", seq, datetime.now(UTC))
        await recordings.insert_chunk(db, meta, chunk)
    await db["recording_chunks"].update_many({}, {"$set": {"processed": True}})
    await client.close()


CHILD = """
import asyncio, json, sys, time
from storage.database import create_client
from workers.compaction import compact_session
async def main():
    client = create_client(sys.argv[1], app_name="bench")
    started = time.perf_counter()
    report = await compact_session(client[sys.argv[2]], sys.argv[3], sys.argv[4])
    elapsed = time.perf_counter() - started
    await client.close()
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
    status = open("/proc/self/status").read()
    peak = int(next(l for l in status.splitlines() if l.startswith("VmHWM")).split()[1]) / 1024
    print(json.dumps({"seconds": elapsed, "parts": report.parts_written, "peak_rss_mb": peak}))
asyncio.run(main())
"""


def run(raw_mb: int) -> dict[str, Any]:
    chunks = _chunks(raw_mb)
    result: dict[str, Any] = {"plain_zstd": _plain_zstd(chunks), "extraction": _extraction(chunks)}
    with running_stack(api=False) as stack:
        asyncio.run(_store(stack.mongodb_url, stack.database, chunks))
        out = subprocess.run(
            [sys.executable, "-c", CHILD, stack.mongodb_url, stack.database, SITE, SESSION],
            cwd=ROOT, capture_output=True, text=True, check=True,
        )  # fmt: skip
    child = json.loads(out.stdout.strip().splitlines()[-1])
    raw = result["plain_zstd"]["raw_mb"]
    result["compaction"] = {
        "raw_mb": raw,
        "seconds": round(child["seconds"], 2),
        "mb_per_s": round(raw / child["seconds"], 1),
        "parts": child["parts"],
        "worker_peak_rss_mb": round(child["peak_rss_mb"], 1),
    }
    result["bench_process_peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--raw-mb", type=int, default=50)
    print(json.dumps(run(parser.parse_args().raw_mb), indent=2))


if __name__ == "__main__":
    main()
