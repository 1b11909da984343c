"""A JavaScript error counts the same whether the client sends it in the batch's `errors`
array or records it as an rrweb custom event `{type: 5, data: {tag: "$error", ...}}`,
whatever names that event's payload uses: the same stored event, the same extracted
error events and error clicks, the same session signals."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from core import codec
from core.config import Settings
from storage.database import Database
from tests.ingest_helpers import batch_body, post_batch, shop_events
from tests.recording_helpers import run_job
from tests.workers_helpers import run_worker_burst
from tests.world_fixtures import Site
from workers.queue import Job

FIRST_CLICK_MS = 411  # after the recording's first event
ERROR = {
    "message": "TypeError: cart is undefined",
    "stack": "TypeError: cart is undefined\n    at add (shop.js:12:5)",
    "source": "http://127.0.0.1:37047/shop.js",
    "line": 12,
    "column": 5,
}
SIGNALS = ["error_count", "error_click_count", "click_count", "frustrated"]
PER_SESSION = {"_id", "session_id", "visitor_id"}

# How rrweb clients shape the payload of a `$error` custom event, and what each carries.
Payload = Callable[[dict[str, Any]], Any]
PAYLOADS: dict[str, tuple[Payload, set[str]]] = {
    "Error's own names": (lambda e: dict(e), set(ERROR)),
    "ErrorEvent's names": (
        lambda e: {
            "message": e["message"],
            "filename": e["source"],
            "lineno": e["line"],
            "colno": e["column"],
            "error": {"stack": e["stack"]},
        },
        set(ERROR),
    ),
    "nested error object": (
        lambda e: {
            "error": {"message": e["message"], "stack": e["stack"]},
            "fileName": e["source"],
            "lineNumber": e["line"],
            "columnNumber": e["column"],
        },
        set(ERROR),
    ),
    "unhandled rejection": (lambda e: {"reason": e["message"]}, {"message"}),
    "bare string": (lambda e: e["message"], {"message"}),
}


def _errors_at(events: list[dict[str, Any]]) -> list[int]:
    """Just after the first click (an error click) and at the end (a plain error)."""
    start = events[0]["timestamp"]
    return [start + FIRST_CLICK_MS + 200, events[-1]["timestamp"] + 10]


def _as_rrweb(events: list[dict[str, Any]], payload: Payload) -> list[dict[str, Any]]:
    recorded = [
        {"type": 5, "data": {"tag": "$error", "payload": payload(ERROR)}, "timestamp": at}
        for at in _errors_at(events)
    ]
    return sorted([*events, *recorded], key=lambda e: e["timestamp"])


async def _send(client: httpx.AsyncClient, key: str, session_id: str, **batch: Any) -> None:
    body = batch_body(key, session_id=session_id, visitor_id=f"v-{session_id}", **batch)
    response = await post_batch(client, body)
    assert response.json() == {"status": "stored"}, response.text


async def _stored_errors(db: Database, session_id: str) -> list[dict[str, Any]]:
    chunk = await db["recording_chunks"].find_one({"session_id": session_id})
    assert chunk is not None
    events = codec.decode_events(bytes(chunk["data"]))
    return [e for e in events if e["type"] == 5 and e["data"]["tag"] == "sightline.error"]


async def _derived(db: Database, session_id: str) -> list[dict[str, Any]]:
    found = db["events"].find({"session_id": session_id, "kind": {"$in": ["error", "error_click"]}})
    documents = [{k: v for k, v in e.items() if k not in PER_SESSION} async for e in found]
    return sorted(documents, key=lambda e: e["key"])


async def _signals(db: Database, session_id: str) -> dict[str, Any]:
    session = await db["sessions"].find_one({"session_id": session_id})
    assert session is not None
    return {name: session.get(name) for name in SIGNALS}


@pytest.mark.parametrize("shape", PAYLOADS)
async def test_rrweb_error_events_count_like_the_errors_array(
    shape: str,
    client: httpx.AsyncClient,
    site: Site,
    db: Database,
    settings: Settings,
    redis: Redis,
) -> None:
    payload, carries = PAYLOADS[shape]
    events = shop_events()
    errors = [{**ERROR, "timestamp": at} for at in _errors_at(events)]
    await _send(client, site.tracking_key, "by-errors-array", events=events, errors=errors)
    await _send(client, site.tracking_key, "by-rrweb-event", events=_as_rrweb(events, payload))

    from_array = await _stored_errors(db, "by-errors-array")
    from_rrweb = await _stored_errors(db, "by-rrweb-event")
    assert len(from_rrweb) == len(from_array) == len(errors)
    for ours, theirs in zip(from_array, from_rrweb, strict=True):
        kept = {k: v for k, v in ours["data"]["payload"].items() if k in carries}
        assert theirs["timestamp"] == ours["timestamp"]
        assert {k: v for k, v in theirs["data"]["payload"].items() if v is not None} == kept

    await run_worker_burst(settings)
    for session_id in ["by-errors-array", "by-rrweb-event"]:
        await run_job(settings, redis, Job.COMPACT_SESSION, site.id, session_id)
    derived = await _derived(db, "by-errors-array")
    assert {e["kind"] for e in derived} == {"error", "error_click"}
    assert await _derived(db, "by-rrweb-event") == derived
    signals = await _signals(db, "by-errors-array")
    assert signals["error_count"] == len(errors)
    assert await _signals(db, "by-rrweb-event") == signals
