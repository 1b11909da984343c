"""Ingestion throughput: `POST /ingest` over loopback next to raw `insert_many`.

    .venv/bin/python -m bench.ingest [--sessions N] [--events-per-session N]
                                     [--batch-size N] [--concurrency N]

Both sides get the same batches in the same run on the same FerretDB: the API
(validation, privacy masking, compression, chunk + session + visitor writes)
and, as the floor, one `insert_many` per batch of the raw events.
"""

import argparse
import asyncio
import gzip
import json
import time
from typing import Any

import httpx
import orjson

from bench.harness import Stack, running_stack, summary_ms
from bench.workload import batches
from storage.database import create_client

SIGN_UP = (
    'mutation { signUp(email: "bench@example.com", password: "benchmark password", '
    'name: "Bench") { token } }'
)
CREATE_SITE = 'mutation { createSite(name: "Bench", domains: ["127.0.0.1:37047"]) { trackingKey } }'


async def _site_key(client: httpx.AsyncClient) -> str:
    token = (await client.post("/graphql", json={"query": SIGN_UP})).json()["data"]["signUp"][
        "token"
    ]
    headers = {"Authorization": f"Bearer {token}"}
    body = (await client.post("/graphql", json={"query": CREATE_SITE}, headers=headers)).json()
    key: str = body["data"]["createSite"]["trackingKey"]
    return key


async def _run_pool(jobs: list[Any], concurrency: int, work: Any) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue = list(reversed(jobs))

    async def runner() -> None:
        while queue:
            job = queue.pop()
            start = time.perf_counter()
            await work(job)
            latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    await asyncio.gather(*(runner() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


async def _through_api(
    stack: Stack, work: list[dict[str, Any]], concurrency: int
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=stack.api_url, limits=limits, timeout=30) as client:
        key = await _site_key(client)
        headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Origin": "http://127.0.0.1:37047",
        }
        bodies = [gzip.compress(orjson.dumps({"key": key, **b})) for b in work]
        errors = 0

        async def send(body: bytes) -> None:
            nonlocal errors
            response = await client.post(f"/ingest?key={key}", content=body, headers=headers)
            if response.status_code != 200:
                errors += 1

        elapsed, latencies = await _run_pool(bodies, concurrency, send)
    events = sum(len(b["events"]) for b in work)
    return {
        "requests": len(work),
        "events": events,
        "errors": errors,
        "seconds": round(elapsed, 2),
        "events_per_s": round(events / elapsed),
        "requests_per_s": round(len(work) / elapsed),
        **summary_ms(latencies),
    }


async def _straight_to_mongodb(
    stack: Stack, work: list[dict[str, Any]], concurrency: int
) -> dict[str, Any]:
    client = create_client(stack.mongodb_url, app_name="bench")
    collection = client["bench_raw"]["events"]

    async def insert(batch: dict[str, Any]) -> None:
        docs = [
            {"s": batch["session_id"], "q": batch["seq"], "e": orjson.dumps(e)}
            for e in batch["events"]
        ]
        await collection.insert_many(docs, ordered=False)

    try:
        elapsed, latencies = await _run_pool(work, concurrency, insert)
    finally:
        await client.close()
    events = sum(len(b["events"]) for b in work)
    return {
        "requests": len(work),
        "events": events,
        "seconds": round(elapsed, 2),
        "events_per_s": round(events / elapsed),
        **summary_ms(latencies),
    }


async def _stored_chunks(stack: Stack) -> int:
    client = create_client(stack.mongodb_url, app_name="bench")
    try:
        return await client[stack.database]["recording_chunks"].count_documents({})
    finally:
        await client.close()


async def run(
    sessions: int, events_per_session: int, batch_size: int, concurrency: int
) -> dict[str, Any]:
    work = batches(sessions, events_per_session, batch_size)
    with running_stack() as stack:
        api = await _through_api(stack, work, concurrency)
        api["chunks_stored"] = await _stored_chunks(stack)
        raw = await _straight_to_mongodb(stack, work, concurrency)
    return {
        "workload": {
            "sessions": sessions,
            "events_per_session": events_per_session,
            "batch_size": batch_size,
            "concurrency": concurrency,
        },
        "api": api,
        "insert_many": raw,
        "api_share_of_insert_many": round(api["events_per_s"] / raw["events_per_s"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--events-per-session", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    result = asyncio.run(
        run(args.sessions, args.events_per_session, args.batch_size, args.concurrency)
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
