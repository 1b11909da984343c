"""The load test's verdict: every accepted batch stored once, replayable in order, processed.

Each session's recording is fetched the way a player fetches it (`GET /replay`
through a signed link) and compared with the accepted batches, rebuilt from the
client's log and masked by the same privacy rules the server applies. A
session's timestamps are all distinct, so an event is known by its timestamp:
a batch is lost when one of its events is missing, a duplicate is a timestamp
seen twice, and an event that differs from its masked original is altered.
"""

import asyncio
import itertools
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from bench.load_client import batch_events
from core.replay_links import replay_path
from core.rrweb.privacy import PrivacyPolicy, PrivacyState, apply_privacy
from storage import events, parts, recordings, sessions
from storage.database import Database
from storage.ids import session_key

Batch = dict[str, Any]


@dataclass
class Check:
    sessions: int = 0
    batches: int = 0
    events: int = 0
    batches_lost: int = 0
    events_lost: int = 0
    duplicates: int = 0
    altered: int = 0
    out_of_order: int = 0
    unexpected: int = 0  # stored events of batches never confirmed (abandoned mid-retry)
    replay_failures: int = 0

    def add(self, other: "Check") -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


def expected_events(batches: list[Batch]) -> dict[int, tuple[int, dict[str, Any]]]:
    """timestamp → (seq, event as the server stores it) for one session's accepted batches."""
    state, out = PrivacyState(), {}
    for batch in sorted(batches, key=lambda b: b["seq"]):
        sent = batch_events(batch["start_ms"], batch["first"], batch["count"])
        for event in apply_privacy(sent, PrivacyPolicy(), state):
            out[event["timestamp"]] = (batch["seq"], event)
    return out


def compare(batches: list[Batch], replayed: list[dict[str, Any]]) -> Check:
    expected = expected_events(batches)
    seen = Counter(e["timestamp"] for e in replayed)
    missing = [ts for ts in expected if ts not in seen]
    stamps = [e["timestamp"] for e in replayed]
    return Check(
        sessions=1,
        batches=len(batches),
        events=len(expected),
        batches_lost=len({expected[ts][0] for ts in missing}),
        events_lost=len(missing),
        duplicates=sum(n - 1 for n in seen.values()),
        altered=sum(
            1 for e in replayed if e["timestamp"] in expected and e != expected[e["timestamp"]][1]
        ),
        out_of_order=sum(1 for a, b in itertools.pairwise(stamps) if b < a),
        unexpected=sum(n for ts, n in seen.items() if ts not in expected),
    )


def accepted_by_session(batches: list[Batch]) -> dict[str, list[Batch]]:
    grouped: dict[str, list[Batch]] = defaultdict(list)
    for batch in batches:
        if batch["outcome"] == "accepted":
            grouped[batch["session_id"]].append(batch)
    return grouped


async def _replayed(
    client: httpx.AsyncClient, url: str, secret_key: bytes, site_id: str, session_id: str
) -> list[dict[str, Any]] | None:
    response = await client.get(url + replay_path(secret_key, session_key(site_id, session_id)))
    if response.status_code != 200:
        return None
    replayed: list[dict[str, Any]] = response.json()
    return replayed


async def check_replays(
    api_urls: list[str], secret_key: bytes, site_id: str, batches: list[Batch], concurrency: int = 4
) -> Check:
    total, gate, urls = Check(), asyncio.Semaphore(concurrency), itertools.cycle(api_urls)

    async def one(client: httpx.AsyncClient, session_id: str, accepted: list[Batch]) -> None:
        async with gate:
            replayed = await _replayed(client, next(urls), secret_key, site_id, session_id)
        if replayed is None:
            check = compare(accepted, [])
            check.replay_failures = 1
        else:
            check = compare(accepted, replayed)
        total.add(check)

    async with httpx.AsyncClient(timeout=120) as client:
        grouped = accepted_by_session(batches)
        await asyncio.gather(*(one(client, s, b) for s, b in grouped.items()))
    return total


async def storage_state(db: Database, site_id: str, batches: list[Batch]) -> dict[str, int]:
    """Whether the workers caught up: unprocessed chunks, extraction, compaction."""
    accepted = set(accepted_by_session(batches))
    extracted = set(await db[events.COLLECTION].distinct("session_id", {"site_id": site_id}))
    chunks = db[recordings.COLLECTION]
    return {
        "sessions_without_extracted_events": len(accepted - extracted),
        "chunks_unprocessed": await chunks.count_documents({"processed": False}),
        "chunks_not_compacted": await chunks.count_documents({}),
        "parts": await db[parts.COLLECTION].count_documents({}),
        "sessions_awaiting_compaction": await db[sessions.COLLECTION].count_documents(
            {"needs_compaction": True}
        ),
    }


async def verify(
    db: Database, api_urls: list[str], secret_key: bytes, site_id: str, batches: list[Batch]
) -> dict[str, Any]:
    check = await check_replays(api_urls, secret_key, site_id, batches)
    return {**asdict(check), **await storage_state(db, site_id, batches)}
