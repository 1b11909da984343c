"""Client clocks decide nothing lasting: batches far in the future are refused, and
retention counts from when the server received the data."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from core.config import Settings
from storage.database import Database
from tests.accounts_helpers import data
from tests.graphql_client import gql
from tests.ingest_helpers import batch_body, post_batch, send_recording, shop_events
from tests.leftovers import mentions
from tests.server_clock import receive_earlier
from tests.workers_helpers import run_worker_burst
from tests.world_fixtures import Site, new_site
from workers import privacy
from workers.queue import JobQueue

YEAR_2099_MS = 4_070_908_800_000
HOUR_MS = 3_600_000


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def _dated(offset_ms: int) -> list[dict[str, Any]]:
    """The shop recording, its last event `offset_ms` from now."""
    events = shop_events()
    shift = _now_ms() + offset_ms - events[-1]["timestamp"]
    return [{**e, "timestamp": e["timestamp"] + shift} for e in events]


async def _site(client: httpx.AsyncClient, retention_days: int = 30) -> Site:
    site = await new_site(client)
    mutation = (
        "mutation($s: ID!, $d: Int!) { updateSite(id: $s, changes: {retentionDays: $d}) { id } }"
    )
    data(await gql(client, mutation, {"s": site.id, "d": retention_days}, token=site.token))
    return site


# Every place a batch carries a client timestamp.
FUTURE_STAMPS = {
    "an rrweb event": lambda events: {
        "events": [*events[:-1], {**events[-1], "timestamp": YEAR_2099_MS}]
    },
    "a custom event": lambda events: {
        "events": events,
        "custom": [{"name": "bought", "timestamp": YEAR_2099_MS, "properties": {}}],
    },
    "an error": lambda events: {
        "events": events,
        "errors": [{"message": "x is not defined", "timestamp": YEAR_2099_MS}],
    },
}


@pytest.mark.parametrize("where", FUTURE_STAMPS)
async def test_a_batch_dated_2099_is_refused_with_a_clear_code(
    client: httpx.AsyncClient, db: Database, where: str
) -> None:
    site = await _site(client)
    fields = FUTURE_STAMPS[where](_dated(0)[:10])
    body = {**batch_body(site.tracking_key, []), **fields}
    response = await post_batch(client, body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "timestamp_in_future"
    assert "ahead of the server's clock" in response.json()["error"]
    for name in ("recording_chunks", "sessions", "visitors"):
        assert await db[name].count_documents({}) == 0


async def test_a_batch_within_the_allowed_skew_is_kept(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    site = await _site(client)
    skew_ms = settings.SIGHTLINE_INGEST_MAX_CLOCK_SKEW_S * 1000
    body = batch_body(site.tracking_key, _dated(skew_ms - HOUR_MS))
    assert (await post_batch(client, body)).json() == {"status": "stored"}
    chunk = await db["recording_chunks"].find_one({})
    assert chunk is not None
    assert abs(chunk["received_at"].replace(tzinfo=UTC) - datetime.now(UTC)) < timedelta(minutes=5)


async def test_retention_runs_on_the_server_clock_whatever_the_client_said(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    # A client dated its session 23 h ahead (within the skew); one day after receipt, a
    # site keeping one day of data must have removed it, although by the client's
    # clock it is not a day old. A session received now whose client says "three days
    # ago" stays.
    site = await _site(client, retention_days=1)
    key = site.tracking_key
    for name, offset_ms in (("ahead", 23 * HOUR_MS), ("behind", -3 * 24 * HOUR_MS)):
        ids = {"session_id": f"session-{name}", "visitor_id": f"visitor-{name}"}
        await send_recording(client, key, _dated(offset_ms), **ids)
    await run_worker_burst(settings)
    assert await receive_earlier(db, timedelta(days=1, hours=1), visitor_id="visitor-ahead") > 0

    queue = JobQueue(redis, settings.SIGHTLINE_QUEUE_NAME)
    assert await privacy.schedule_retention(db, queue) == 1
    await run_worker_burst(settings)

    assert await mentions(db, ["visitor-ahead", "session-ahead"]) == []
    assert await db["sessions"].count_documents({"session_id": "session-behind"}) == 1
    assert await db["visitors"].count_documents({"visitor_id": "visitor-behind"}) == 1
