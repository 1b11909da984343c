"""The GraphQL overhead: a `sessions` page over HTTP next to the storage query it runs.

    .venv/bin/python -m bench.graphql_overhead [--sessions N] [--repeat N]

N sessions of one site are written to the sessions collection the way ingestion
leaves them; a signed-in user then asks for `sessions(siteId, first: 50)` through
`POST /graphql` on a real API process (bearer token, access rules, ownership
check, serialisation, HTTP on loopback). The same page is read by calling
`storage.session_search.search_sessions` directly on the same database. The ratio
of the medians is what GraphQL and HTTP add to the query.
"""

import argparse
import asyncio
import json
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo.errors import ExecutionTimeout

from bench.harness import percentile, running_stack
from core.epoch import epoch_ms
from storage import session_buckets
from storage import sessions as session_store
from storage.database import Database, Document, create_client
from storage.ids import session_key
from storage.indexes import ensure_indexes
from storage.session_search import SessionFilter, search_sessions

PAGE = 50
START = datetime(2026, 11, 1, tzinfo=UTC)
SIGN_UP = """mutation($email: String!, $password: String!) {
  signUp(email: $email, password: $password, name: "Bench") { token } }"""
CREATE_SITE = """mutation { createSite(name: "Bench shop", domains: ["shop.example"]) { id } }"""
SESSIONS = """query($siteId: ID!, $first: Int!) {
  sessions(siteId: $siteId, first: $first) {
    nodes { id sessionId visitorId startedAt durationMs pageCount eventCount entryUrl browser
            os deviceType country clickCount rageClickCount errorCount frustrated replayable }
    pageInfo { hasNextPage endCursor }
  }
}"""


def _session(rng: random.Random, site_id: str, n: int) -> Document:
    started = START + timedelta(seconds=n * 37)
    duration = rng.randint(5_000, 900_000)
    pages = [
        {"url": f"http://shop.example/p{i}", "path": f"/p{i}", "at": i * 1000}
        for i in range(rng.randint(1, 6))
    ]
    return {
        "_id": session_key(site_id, f"s{n:07d}"),
        "site_id": site_id,
        "session_id": f"s{n:07d}",
        "visitor_id": f"v{n // 3:07d}",
        "started_at": started,
        "last_activity_at": started + timedelta(milliseconds=duration),
        "duration_ms": duration,
        "page_count": len(pages),
        "event_count": rng.randint(50, 3000),
        "pages": pages,
        "urls": [p["url"] for p in pages],
        "entry_url": pages[0]["url"],
        "exit_url": pages[-1]["url"],
        "browser": rng.choice(["Chrome", "Firefox", "Safari"]),
        "os": rng.choice(["Windows", "Mac OS X", "iOS", "Android"]),
        "device_type": rng.choice(["desktop", "mobile", "tablet"]),
        "country": rng.choice(["FR", "DE", "US"]),
        "viewport": {"width": 1280, "height": 800},
        "click_count": rng.randint(0, 40),
        "rage_click_count": 0,
        "error_count": 0,
        "privacy_state": {"masked": []},
        "chunks": {"0": 50},
    }


async def insert_sessions(db: Database, site_id: str, docs: list[Document]) -> None:
    """Insert session documents as ingestion leaves them: with their start hour, marked
    first, so lists by start time find them."""
    hours = set()
    for doc in docs:
        hour = session_buckets.bucket_of(epoch_ms(doc["started_at"]))
        doc[session_buckets.FIELD] = hour
        hours.add(hour)
    for hour in sorted(hours):
        await session_buckets.mark(db, site_id, hour)
    await db[session_store.COLLECTION].insert_many(docs, ordered=False)


async def _seed(db: Database, site_id: str, count: int) -> None:
    rng = random.Random(5)
    for first in range(0, count, 5000):
        docs = [_session(rng, site_id, n) for n in range(first, min(count, first + 5000))]
        await insert_sessions(db, site_id, docs)


async def _samples(repeat: int, work: Callable[[], Awaitable[int]]) -> tuple[list[float], int]:
    samples, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        size = await work()
        samples.append(time.perf_counter() - started)
    return samples, size


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(samples) * 1000, 2),
        "p99_ms": round(percentile(samples, 0.99) * 1000, 2),
    }


async def _signed_in(client: httpx.AsyncClient) -> tuple[str, str]:
    variables = {"email": "bench@example.com", "password": "bench password 123"}
    body = (await client.post("/graphql", json={"query": SIGN_UP, "variables": variables})).json()
    token = body["data"]["signUp"]["token"]
    headers = {"Authorization": f"Bearer {token}"}
    body = (await client.post("/graphql", json={"query": CREATE_SITE}, headers=headers)).json()
    return token, body["data"]["createSite"]["id"]


async def run_async(sessions: int, repeat: int) -> dict[str, Any]:
    with running_stack() as stack:
        mongo = create_client(stack.mongodb_url, app_name="bench")
        db = mongo[stack.database]
        await ensure_indexes(db)
        errors = {"graphql": 0, "storage_direct": 0}
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as client:
            token, site_id = await _signed_in(client)
            await _seed(db, site_id, sessions)
            headers = {"Authorization": f"Bearer {token}"}
            request = {"query": SESSIONS, "variables": {"siteId": site_id, "first": PAGE}}

            async def through_graphql() -> int:
                response = await client.post("/graphql", json=request, headers=headers)
                body = response.json()
                if body.get("errors"):  # e.g. the query's time limit, reached under load
                    errors["graphql"] += 1
                    return PAGE
                return len(body["data"]["sessions"]["nodes"])

            async def direct() -> int:
                # What the resolver asks for: one more than the page, to know if another follows.
                try:
                    return len(await search_sessions(db, site_id, SessionFilter(), limit=PAGE + 1))
                except ExecutionTimeout:
                    errors["storage_direct"] += 1
                    return PAGE + 1

            await through_graphql(), await direct()  # warm both paths up
            graphql_s, nodes = await _samples(repeat, through_graphql)
            direct_s, rows = await _samples(repeat, direct)
        await mongo.close()
    assert nodes == PAGE, "the GraphQL page came back short"
    assert rows == PAGE + 1, "the storage page came back short"
    ratio = statistics.median(graphql_s) / statistics.median(direct_s)
    return {
        "sessions": sessions,
        "page_size": PAGE,
        "graphql": _summary(graphql_s),
        "storage_direct": _summary(direct_s),
        "overhead_ratio": round(ratio, 2),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run_async(args.sessions, args.repeat)), indent=2))


if __name__ == "__main__":
    main()
