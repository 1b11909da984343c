import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from core import codec
from core.config import Settings
from core.part_codec import iter_part_events
from storage import privacy_requests
from storage.database import Database
from tests.accounts_helpers import data
from tests.graphql_client import gql
from tests.ingest_helpers import TYPED_EMAIL, batch_body, post_batch, shop_events
from tests.leftovers import mentions
from tests.recording_helpers import run_job
from tests.server_clock import receive_earlier
from tests.workers_helpers import run_worker_burst
from tests.world_fixtures import Site, new_site
from workers import privacy
from workers.queue import Job, JobQueue

SESSIONS = "query($s: ID!) { sessions(siteId: $s) { nodes { id sessionId visitorId replayUrl } } }"


async def _send(
    client: httpx.AsyncClient,
    key: str,
    session: str,
    visitor: str,
    shift_ms: int = 0,
    events: list[dict[str, Any]] | None = None,
) -> None:
    recorded = events or shop_events()
    recorded = [{**e, "timestamp": e["timestamp"] + shift_ms} for e in recorded]
    for seq in range(0, len(recorded), 25):
        body = batch_body(
            key, recorded[seq : seq + 25], seq=seq // 25, session_id=session, visitor_id=visitor
        )
        assert (await post_batch(client, body)).status_code == 200


async def _world(client: httpx.AsyncClient, settings: Settings) -> Site:
    site = await new_site(client)
    await _send(client, site.tracking_key, "session-aaaa-1", "visitor-aaaa")
    await _send(client, site.tracking_key, "session-aaaa-2", "visitor-aaaa", shift_ms=3_600_000)
    await _send(client, site.tracking_key, "session-bbbb-1", "visitor-bbbb")
    await run_worker_burst(settings)
    return site


async def _request(
    client: httpx.AsyncClient, token: str, query: str, site_id: str
) -> dict[str, Any]:
    body = data(await gql(client, query, {"s": site_id}, token=token))
    result: dict[str, Any] = next(iter(body.values()))
    return result


async def _finished(client: httpx.AsyncClient, token: str, request_id: str) -> dict[str, Any]:
    query = """query($id: ID!) { privacyRequest(id: $id) {
        id kind status asked removed outcome requestedBy subjectHash finishedAt downloadUrl } }"""
    result: dict[str, Any] = data(await gql(client, query, {"id": request_id}, token=token))[
        "privacyRequest"
    ]
    return result


async def test_erase_visitor_removes_every_trace_and_nothing_comes_back(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    site = await _world(client, settings)
    sessions = data(await gql(client, SESSIONS, {"s": site.id}, token=site.token))["sessions"][
        "nodes"
    ]
    erased_replays = [s["replayUrl"] for s in sessions if s["visitorId"] == "visitor-aaaa"]
    queue = JobQueue(redis, settings.SIGHTLINE_QUEUE_NAME)
    await queue.enqueue(Job.COMPACT_SESSION, site.id, "session-aaaa-1")  # queued before the erasure
    await queue.enqueue(Job.PROCESS_SESSION, site.id, "session-aaaa-2")

    request = await _request(
        client,
        site.token,
        'mutation($s: ID!) { eraseVisitor(siteId: $s, visitorId: "visitor-aaaa") { id status } }',
        site.id,
    )
    assert request["status"] == "pending"
    await privacy.run_privacy_request(db, settings.secret_key, request["id"])
    await run_worker_burst(settings)  # the stale compaction and extraction jobs run now

    assert await mentions(db, ["visitor-aaaa", "session-aaaa"]) == []
    for url in erased_replays:
        assert (await client.get(url.removeprefix("http://sightline.test"))).status_code == 404
    kept = data(await gql(client, SESSIONS, {"s": site.id}, token=site.token))["sessions"]["nodes"]
    assert [s["sessionId"] for s in kept] == ["session-bbbb-1"]

    done = await _finished(client, site.token, request["id"])
    assert done["status"] == "done"
    assert done["removed"]["sessions"] == 2
    assert done["removed"]["visitors"] == 1
    assert done["removed"]["recording_chunks"] > 0
    assert done["removed"]["events"] > 0
    assert done["requestedBy"].startswith("account:")
    assert len(done["subjectHash"]) == 64

    again = batch_body(
        site.tracking_key,
        shop_events()[:5],
        session_id="session-aaaa-9",
        visitor_id="visitor-aaaa",
    )
    assert (await post_batch(client, again)).json() == {"status": "ignored", "reason": "erased"}
    assert await mentions(db, ["visitor-aaaa", "session-aaaa"]) == []


async def test_erase_recordings_in_a_time_range(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    site = await _world(client, settings)
    start = datetime.fromtimestamp(shop_events()[0]["timestamp"] / 1000, UTC) - timedelta(minutes=1)
    window = (
        f'{{start: "{start.isoformat()}", end: "{(start + timedelta(minutes=30)).isoformat()}"}}'
    )
    request = await _request(
        client,
        site.token,
        f"mutation($s: ID!) {{ eraseRecordings(siteId: $s, range: {window}) {{ id }} }}",
        site.id,
    )
    await run_worker_burst(settings)
    left = data(await gql(client, SESSIONS, {"s": site.id}, token=site.token))["sessions"]["nodes"]
    assert [s["sessionId"] for s in left] == ["session-aaaa-2"]
    done = await _finished(client, site.token, request["id"])
    assert done["status"] == "done"
    assert done["removed"]["sessions"] == 2
    assert done["asked"]["from"] == start.isoformat()


async def test_an_interrupted_deletion_resumes_with_exact_counts(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = await _world(client, settings)
    expected = {
        name: await db[name].count_documents({"site_id": site.id})
        for name in ("recording_chunks", "events", "sessions", "visitors")
    }
    request = await _request(
        client, site.token, "mutation($s: ID!) { deleteSite(siteId: $s) { id } }", site.id
    )
    monkeypatch.setattr("storage.erasure.BATCH_SIZE", 7)
    real_settle = privacy_requests.settle_pending
    calls = 0

    async def crash_on_third(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise ConnectionError("worker died between the delete and the count")
        await real_settle(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(privacy_requests, "settle_pending", crash_on_third)
        with pytest.raises(ConnectionError):
            await privacy.run_privacy_request(db, settings.secret_key, request["id"])
    assert (await privacy_requests.find_request(db, request["id"]) or {})["status"] == "running"

    await privacy.run_privacy_request(db, settings.secret_key, request["id"])
    done = await privacy_requests.find_request(db, request["id"])
    assert done is not None
    assert done["status"] == "done"
    assert {k: done["removed"].get(k, 0) for k in expected} == expected
    assert done["removed"]["sites"] == 1
    for name in expected:
        assert await db[name].count_documents({}) == 0


async def test_retention_removes_exactly_what_is_older_than_the_limit(
    client: httpx.AsyncClient, site: Site, db: Database, settings: Settings, redis: Redis
) -> None:
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    recorded = shop_events()
    shift = now_ms - 3_600_000 - recorded[-1]["timestamp"]
    await _send(client, site.tracking_key, "session-old-1", "visitor-oooo", shift_ms=shift)
    await _send(client, site.tracking_key, "session-new-1", "visitor-nnnn", shift_ms=shift)
    await run_worker_burst(settings)
    # Retention counts from when the server received the data (tests/test_server_time.py).
    assert await receive_earlier(db, timedelta(days=3), visitor_id="visitor-oooo") > 0
    mutation = (
        "mutation($s: ID!) { updateSite(id: $s, changes: {retentionDays: 2}) { retentionDays } }"
    )
    assert data(await gql(client, mutation, {"s": site.id}, token=site.token)) == {
        "updateSite": {"retentionDays": 2}
    }

    queue = JobQueue(redis, settings.SIGHTLINE_QUEUE_NAME)
    assert await privacy.schedule_retention(db, queue) == 1
    await run_worker_burst(settings)

    left = data(await gql(client, SESSIONS, {"s": site.id}, token=site.token))["sessions"]["nodes"]
    assert [s["sessionId"] for s in left] == ["session-new-1"]
    assert await db["events"].count_documents({"session_id": "session-old-1"}) == 0
    assert await db["events"].count_documents({"session_id": "session-new-1"}) > 0
    requests = data(
        await gql(
            client,
            "query($s: ID!) { privacyRequests(siteId: $s) { kind status removed asked } }",
            {"s": site.id},
            token=site.token,
        )
    )["privacyRequests"]
    [retention] = [r for r in requests if r["kind"] == "retention"]
    assert retention["status"] == "done"
    assert retention["removed"]["sessions"] == 1
    assert retention["asked"]["retention_days"] == 2


async def test_export_holds_every_session_and_event_of_the_visitor_only(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    site = await _world(client, settings)
    request = await _request(
        client,
        site.token,
        'mutation($s: ID!) { exportVisitor(siteId: $s, visitorId: "visitor-aaaa") '
        "{ id downloadUrl } }",
        site.id,
    )
    assert request["downloadUrl"] is None
    await run_worker_burst(settings)
    done = await _finished(client, site.token, request["id"])
    assert done["status"] == "done"
    response = await client.get(done["downloadUrl"].removeprefix("http://sightline.test"))
    assert response.status_code == 200
    export = json.loads(response.content)
    assert export["export"]["visitor_id"] == "visitor-aaaa"
    assert sorted(s["session"]["session_id"] for s in export["sessions"]) == [
        "session-aaaa-1",
        "session-aaaa-2",
    ]
    stored_events = await db["events"].count_documents({"visitor_id": "visitor-aaaa"})
    assert sum(len(s["events"]) for s in export["sessions"]) == stored_events
    assert all(len(s["recording"]) == len(shop_events()) for s in export["sessions"])
    assert "visitor-bbbb" not in response.text
    assert "session-bbbb" not in response.text
    forged = done["downloadUrl"][:-3] + "000"
    assert (await client.get(forged.removeprefix("http://sightline.test"))).status_code == 403


async def test_scan_finds_personal_data_and_redacts_it_in_place(
    client: httpx.AsyncClient, site: Site, db: Database, settings: Settings, redis: Redis
) -> None:
    mutation = "mutation($s: ID!) { updateSite(id: $s, changes: {recordInputs: true}) { id } }"
    data(await gql(client, mutation, {"s": site.id}, token=site.token))
    await _send(client, site.tracking_key, "session-scan-1", "visitor-scan")
    await run_worker_burst(settings)
    await run_job(settings, redis, Job.COMPACT_SESSION, site.id, "session-scan-1")
    await _send(client, site.tracking_key, "session-scan-2", "visitor-scan", shift_ms=60_000)
    window = '{start: "2026-11-28T00:00:00Z", end: "2026-11-30T00:00:00Z"}'

    report = await _request(
        client,
        site.token,
        f"mutation($s: ID!) {{ scanRecordings(siteId: $s, range: {window}) {{ id }} }}",
        site.id,
    )
    await run_worker_burst(settings)
    found = await _finished(client, site.token, report["id"])
    assert found["outcome"]["counts"]["email"] >= 2
    assert found["outcome"]["findings"][0]["kind"] == "email"
    assert TYPED_EMAIL not in json.dumps(found)
    stored_before = await _stored_recordings(db)
    assert TYPED_EMAIL in stored_before

    redact = await _request(
        client,
        site.token,
        "mutation($s: ID!) { scanRecordings(siteId: $s, "
        f"range: {window}, redact: true) {{ id }} }}",
        site.id,
    )
    await run_worker_burst(settings)
    assert (await _finished(client, site.token, redact["id"]))["outcome"]["redacted_pieces"] >= 2
    stored_after = await _stored_recordings(db)
    assert TYPED_EMAIL not in stored_after
    assert "jane@" not in stored_after
    sessions = data(await gql(client, SESSIONS, {"s": site.id}, token=site.token))["sessions"][
        "nodes"
    ]
    for session in sessions:
        replay = await client.get(session["replayUrl"].removeprefix("http://sightline.test"))
        assert len(replay.json()) == len(shop_events())


async def _stored_recordings(db: Database) -> str:
    texts = []
    async for chunk in db["recording_chunks"].find({}):
        texts.append(json.dumps(codec.decode_events(bytes(chunk["data"]))))
    async for part in db["recording_parts"].find({}):
        texts.append(json.dumps(list(iter_part_events(bytes(part["data"])))))
    return "\n".join(texts)
