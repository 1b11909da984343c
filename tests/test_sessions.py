from typing import Any

import httpx
from redis.asyncio import Redis

from core.config import Settings
from scripts.local_services import Service
from storage.database import Database
from tests.accounts_helpers import data, error_code
from tests.conftest import serve
from tests.graphql_client import gql
from tests.ingest_helpers import batch_body, post_batch, shop_events
from tests.world_fixtures import Site, new_site

PAGE = """
query($site: ID!, $after: String, $filter: SessionFilter, $order: SessionOrder) {
  sessions(siteId: $site, first: 3, after: $after, filter: $filter, orderBy: $order) {
    nodes { sessionId visitorId durationMs }
    pageInfo { hasNextPage endCursor }
  }
}"""


def _events(start_ms: int, duration_ms: int) -> list[dict[str, Any]]:
    meta = {
        "type": 4,
        "data": {"href": "http://127.0.0.1:37047/shop.html", "width": 1280, "height": 800},
        "timestamp": start_ms,
    }
    move = {
        "type": 3,
        "data": {"source": 1, "positions": [{"x": 1, "y": 2, "id": 1, "timeOffset": 0}]},
        "timestamp": start_ms + duration_ms,
    }
    return [meta, move]


async def _send_session(
    client: httpx.AsyncClient,
    key: str,
    n: int,
    *,
    visitor: str = "visitor-0001",
    duration_ms: int = 1000,
) -> None:
    body = batch_body(
        key,
        _events(1_795_000_000_000 + n * 60_000, duration_ms),
        session_id=f"session-{n:04d}",
        visitor_id=visitor,
    )
    assert (await post_batch(client, body)).status_code == 200


async def test_pagination_returns_every_session_once_while_new_ones_arrive(
    client: httpx.AsyncClient,
    site: Site,
) -> None:
    for n in range(10):
        await _send_session(client, site.tracking_key, n)

    seen: list[str] = []
    after = None
    arrivals = iter(range(100, 110))
    while True:
        page = data(await gql(client, PAGE, {"site": site.id, "after": after}, token=site.token))[
            "sessions"
        ]
        seen.extend(node["sessionId"] for node in page["nodes"])
        await _send_session(client, site.tracking_key, next(arrivals))
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"session-{n:04d}" for n in reversed(range(10))]


async def test_sessions_can_be_filtered_and_sorted(client: httpx.AsyncClient, site: Site) -> None:
    await _send_session(client, site.tracking_key, 1, visitor="visitor-aaaa", duration_ms=5_000)
    await _send_session(client, site.tracking_key, 2, visitor="visitor-bbbb", duration_ms=60_000)
    await _send_session(client, site.tracking_key, 3, visitor="visitor-aaaa", duration_ms=20_000)

    async def ids(filter: dict[str, Any] | None = None, order: str | None = None) -> list[str]:
        body = await gql(
            client, PAGE, {"site": site.id, "filter": filter, "order": order}, token=site.token
        )
        return [n["sessionId"] for n in data(body)["sessions"]["nodes"]]

    assert await ids({"visitorId": "visitor-aaaa"}) == ["session-0003", "session-0001"]
    assert await ids({"minDurationMs": 10_000}) == ["session-0003", "session-0002"]
    assert await ids(order="DURATION_DESC") == ["session-0002", "session-0003", "session-0001"]
    assert await ids(order="STARTED_AT_ASC") == ["session-0001", "session-0002", "session-0003"]
    assert await ids(
        {"urlContains": "shop.html", "deviceType": "desktop", "browser": "Chrome"}
    ) == ["session-0003", "session-0002", "session-0001"]
    assert await ids({"urlContains": "checkout"}) == []
    assert await ids({"country": "FR"}) == []


async def test_session_and_visitor_lookups(client: httpx.AsyncClient, site: Site) -> None:
    await _send_session(client, site.tracking_key, 1, visitor="visitor-cccc")
    await _send_session(client, site.tracking_key, 2, visitor="visitor-cccc")
    query = """query($site: ID!) { visitor(siteId: $site, id: "visitor-cccc") {
        id sessions { nodes { id sessionId } } } }"""
    visitor = data(await gql(client, query, {"site": site.id}, token=site.token))["visitor"]
    assert [n["sessionId"] for n in visitor["sessions"]["nodes"]] == [
        "session-0002",
        "session-0001",
    ]
    one = visitor["sessions"]["nodes"][0]["id"]
    session = await gql(
        client,
        "query($id: ID!) { session(id: $id) { sessionId pageCount } }",
        {"id": one},
        token=site.token,
    )
    assert data(session) == {"session": {"sessionId": "session-0002", "pageCount": 1}}
    missing = await gql(
        client, "query($id: ID!) { session(id: $id) { id } }", {"id": "0" * 24}, token=site.token
    )
    assert error_code(missing) == "NOT_FOUND"


async def test_first_must_be_within_bounds(client: httpx.AsyncClient, site: Site) -> None:
    body = await gql(
        client,
        "query($s: ID!) { sessions(siteId: $s, first: 5000) { nodes { id } } }",
        {"s": site.id},
        token=site.token,
    )
    assert body["errors"][0]["message"] == "`first` must be between 1 and 100."
    bad = await gql(
        client,
        'query($s: ID!) { sessions(siteId: $s, after: "garbage!") { nodes { id } } }',
        {"s": site.id},
        token=site.token,
    )
    assert "cursor is not valid" in bad["errors"][0]["message"]


async def test_deleted_site_stops_ingest_and_replay_at_once(
    client: httpx.AsyncClient, site: Site, db: Database, settings: Settings
) -> None:
    await _send_session(client, site.tracking_key, 1)
    session = data(
        await gql(
            client,
            "query($s: ID!) { sessions(siteId: $s) { nodes { replayUrl } } }",
            {"s": site.id},
            token=site.token,
        )
    )
    replay_url = session["sessions"]["nodes"][0]["replayUrl"].removeprefix("http://sightline.test")
    request = data(
        await gql(
            client,
            "mutation($s: ID!) { deleteSite(siteId: $s) { kind status } }",
            {"s": site.id},
            token=site.token,
        )
    )
    assert request["deleteSite"] == {"kind": "delete_site", "status": "pending"}

    assert (await client.get(replay_url)).status_code == 404
    assert (
        await post_batch(client, batch_body(site.tracking_key, shop_events()[:3]))
    ).status_code == 401
    assert (
        error_code(
            await gql(
                client, "query($s: ID!) { site(id: $s) { id } }", {"s": site.id}, token=site.token
            )
        )
        == "NOT_FOUND"
    )

    from tests.workers_helpers import run_worker_burst

    await run_worker_burst(settings)
    for name in ("sites", "sessions", "recording_chunks", "visitors"):
        assert await db[name].count_documents({}) == 0, name
    finished = await db["privacy_requests"].find_one({})
    assert finished is not None
    assert finished["status"] == "done"
    assert finished["removed"] == {
        "sites": 1, "sessions": 1, "session_buckets": 3, "recording_chunks": 1, "visitors": 1
    }  # fmt: skip


async def test_mongodb_down_answers_503_and_writes_nothing(
    settings: Settings, own_mongodb: Service, redis: Redis
) -> None:
    settings = settings.model_copy(update={"MONGODB_URL": own_mongodb.url})
    async with serve(settings) as client:
        site = await new_site(client, "mongo@example.com")
        own_mongodb.stop()
        response = await post_batch(client, batch_body(site.tracking_key, shop_events()[:5]))
        assert response.status_code == 503
        assert response.json()["code"] == "storage_unavailable"
        assert response.headers["retry-after"] == "5"


async def test_redis_down_still_stores_batches(
    settings: Settings, db: Database, own_redis: Service
) -> None:
    settings = settings.model_copy(update={"REDIS_URL": own_redis.url})
    async with serve(settings) as client:
        site = await new_site(client, "redis@example.com")
        own_redis.stop()
        for seq in range(3):
            response = await post_batch(
                client, batch_body(site.tracking_key, shop_events()[:5], seq=seq)
            )
            assert response.status_code == 200, response.text
    assert await db["recording_chunks"].count_documents({"processed": False}) == 3
