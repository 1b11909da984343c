from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from core.config import Settings
from storage.database import Database
from tests.accounts_helpers import data
from tests.graphql_client import gql
from tests.ingest_helpers import TYPED_EMAIL, batch_body, post_batch, shop_events
from tests.recording_helpers import counts, run_job, session_node, shop_session
from tests.workers_helpers import run_worker_burst
from tests.world_fixtures import Site
from workers import processing
from workers.queue import Job, JobQueue
from workers.recording_jobs import sweep_recordings

EVENTS = """
query($s: ID!, $f: EventFilter) {
  events(siteId: $s, filter: $f, first: 100) {
    nodes { kind selector text href x y fieldType count depthPx signalsVersion url path }
  }
}"""


async def _events(
    client: httpx.AsyncClient, token: str, site_id: str, **filter: Any
) -> list[dict[str, Any]]:
    body = await gql(client, EVENTS, {"s": site_id, "f": filter or None}, token=token)
    nodes: list[dict[str, Any]] = data(body)["events"]["nodes"]
    return list(reversed(nodes))


async def _processed_shop(client: httpx.AsyncClient, settings: Settings) -> Site:
    site = await shop_session(client)
    await run_worker_burst(settings)
    return site


async def test_the_real_recording_yields_its_clicks_rage_click_inputs_and_scroll(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    site = await _processed_shop(client, settings)
    clicks = await _events(client, site.token, site.id, kinds=["CLICK"])
    described = [(c["selector"], c["text"]) for c in clicks]
    assert any(
        sel and sel.endswith("button.add") and text == "Add to cart" for sel, text in described
    ), described
    assert ("a#nav-home", "Home") in described or any(
        s and s.startswith("a#nav-") for s, _ in described
    )
    assert ("button#subscribe", "Subscribe") in described
    nav = next(c for c in clicks if c["selector"] and c["selector"].startswith("a#nav-"))
    assert nav["href"].startswith("http://127.0.0.1:37047/")

    [rage] = await _events(client, site.token, site.id, kinds=["RAGE_CLICK"])
    assert rage["selector"] == "div#promo.banner"
    assert rage["count"] == 4
    assert rage["signalsVersion"] == 1

    inputs = await _events(client, site.token, site.id, kinds=["INPUT"])
    assert [(i["selector"], i["fieldType"]) for i in inputs][:2] == [
        ("input#email", "email"),
        ("input#pw", "password"),
    ]
    [scroll] = await _events(client, site.token, site.id, kinds=["SCROLL"])
    assert scroll["depthPx"] > 800

    everything = str(await _events(client, site.token, site.id))
    assert TYPED_EMAIL not in everything
    node = await session_node(client, site.token, site.id)
    assert node["incomplete"] is None
    summary = data(
        await gql(
            client,
            "query($s: ID!) { sessions(siteId: $s) "
            "{ nodes { clickCount rageClickCount frustrated } } }",
            {"s": site.id},
            token=site.token,
        )
    )
    assert summary["sessions"]["nodes"][0]["rageClickCount"] == 1
    assert summary["sessions"]["nodes"][0]["frustrated"] is True
    assert summary["sessions"]["nodes"][0]["clickCount"] == len(clicks)


async def test_processing_twice_yields_each_event_once(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    site = await _processed_shop(client, settings)
    live = await db["events"].count_documents({})
    await processing.process_session(db, site.id, "session-0001", final=True)
    final = await db["events"].count_documents({})
    assert final == live + 1, "the final run decides the banner's dead click"
    for _ in range(2):
        await processing.process_session(db, site.id, "session-0001", final=True, from_start=True)
        assert await db["events"].count_documents({}) == final


async def test_events_survive_compaction_unchanged(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    site = await _processed_shop(client, settings)
    await run_job(settings, redis, Job.COMPACT_SESSION, site.id, "session-0001")
    before = await _events(client, site.token, site.id)
    assert (await counts(db))["recording_chunks"] == 0
    await processing.process_session(db, site.id, "session-0001", final=True, from_start=True)
    assert await _events(client, site.token, site.id) == before


async def test_sessions_can_be_filtered_by_frustration(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    site = await _processed_shop(client, settings)
    query = (
        "query($s: ID!, $f: SessionFilter) "
        "{ sessions(siteId: $s, filter: $f) { nodes { sessionId } } }"
    )
    for flt, expected in [
        ({"hasRageClicks": True}, 1),
        ({"hasRageClicks": False}, 0),
        ({"frustrated": True}, 1),
        ({"hasErrors": True}, 0),
    ]:
        body = data(await gql(client, query, {"s": site.id, "f": flt}, token=site.token))
        assert len(body["sessions"]["nodes"]) == expected, flt


async def test_tuned_thresholds_change_history_after_recompute(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    site = await _processed_shop(client, settings)
    assert len(await _events(client, site.token, site.id, kinds=["RAGE_CLICK"])) == 1
    mutation = """mutation($id: ID!) {
      updateSite(id: $id, changes: {signals: {rageClickCount: 5}}) {
        signals { version rageClickCount } } }"""
    changed = data(await gql(client, mutation, {"id": site.id}, token=site.token))
    assert changed["updateSite"]["signals"] == {"version": 2, "rageClickCount": 5}
    assert data(
        await gql(
            client,
            "mutation($id: ID!) { recomputeSignals(siteId: $id) }",
            {"id": site.id},
            token=site.token,
        )
    ) == {"recomputeSignals": True}
    await run_worker_burst(settings)
    assert await _events(client, site.token, site.id, kinds=["RAGE_CLICK"]) == []

    back = """mutation($id: ID!) {
      updateSite(id: $id, changes: {signals: {rageClickCount: 4}}) { id } }"""
    data(await gql(client, back, {"id": site.id}, token=site.token))
    data(
        await gql(
            client,
            "mutation($id: ID!) { recomputeSignals(siteId: $id) }",
            {"id": site.id},
            token=site.token,
        )
    )
    await run_worker_burst(settings)
    [rage] = await _events(client, site.token, site.id, kinds=["RAGE_CLICK"])
    assert rage["signalsVersion"] == 3
    bad = await gql(
        client,
        """mutation($id: ID!) {
          updateSite(id: $id, changes: {signals: {rageClickCount: 1}}) { id } }""",
        {"id": site.id},
        token=site.token,
    )
    assert "rage_click_count must be between 2 and 100" in bad["errors"][0]["message"]


async def test_gaps_and_missing_snapshots_are_recorded_not_served_blank(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    site = await shop_session(client, events=shop_events()[:30], batch_size=10)
    await post_batch(client, batch_body(site.tracking_key, shop_events()[40:50], seq=4))
    await run_worker_burst(settings)
    node = await session_node(client, site.token, site.id)
    assert node["incomplete"] == "missing batches: 3"
    assert node["replayable"] is True

    other = batch_body(site.tracking_key, shop_events()[10:20], session_id="session-nosnap")
    await post_batch(client, other)
    await run_worker_burst(settings)
    query = """query($s: ID!) {
      sessions(siteId: $s, filter: {visitorId: "visitor-0001"}) {
        nodes { sessionId incomplete replayUrl } } }"""
    nodes = {
        n["sessionId"]: n
        for n in data(await gql(client, query, {"s": site.id}, token=site.token))["sessions"][
            "nodes"
        ]
    }
    assert nodes["session-nosnap"]["incomplete"] == "the first stored batch has no full snapshot"
    assert nodes["session-nosnap"]["replayUrl"] is None


async def test_event_counts_per_day(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    site = await _processed_shop(client, settings)
    query = """query($s: ID!) { eventCounts(siteId: $s, interval: DAY,
        range: {start: "2026-11-28T00:00:00Z", end: "2026-11-30T00:00:00Z"}) {
          kind bucketStart count } }"""
    rows = data(await gql(client, query, {"s": site.id}, token=site.token))["eventCounts"]
    by_kind = {r["kind"]: r["count"] for r in rows}
    assert by_kind["RAGE_CLICK"] == 1
    assert by_kind["CLICK"] == len(await _events(client, site.token, site.id, kinds=["CLICK"]))
    assert {r["bucketStart"] for r in rows} == {"2026-11-29T00:00:00+00:00"}


async def test_the_sweep_finds_chunks_the_api_could_not_queue(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    await shop_session(client)
    await redis.flushdb()  # the queued jobs are lost, as if Redis had been down
    await db["recording_chunks"].update_many(
        {}, {"$set": {"received_at": datetime(2026, 1, 1, tzinfo=UTC)}}
    )
    await run_job(settings, redis, Job.HEARTBEAT)
    assert await db["recording_chunks"].count_documents({"processed": False}) == 8

    await sweep_recordings(
        {"db": db, "settings": settings, "queue": JobQueue(redis, settings.SIGHTLINE_QUEUE_NAME)}
    )
    await run_worker_burst(settings)
    assert await db["recording_chunks"].count_documents({"processed": False}) == 0
    assert await db["events"].count_documents({"kind": "rage_click"}) == 1


# Where in a run the batch lands: right after the run listed the session's chunks, or once
# the run is over but before its job has ended.
ARRIVALS = {"mid-run": "list_pieces", "at the end of the run": "process_session"}


@pytest.mark.parametrize("arrives", ARRIVALS)
async def test_a_batch_that_arrives_while_its_session_is_processed_gets_its_own_run(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    arrives: str,
) -> None:
    """The API cannot queue a run for a session whose job is running (arq refuses a job id
    it still knows): whenever in the run the batch lands, the workers queue the next run
    themselves, rather than leave the batch to the outbox sweep a minute or more later."""
    site = await shop_session(client)
    events = shop_events()
    late = batch_body(site.tracking_key, events[-10:], seq=len(events) // 10 + 1)
    original = getattr(processing, ARRIVALS[arrives])
    sent: list[int] = []

    async def then_a_batch_arrives(*args: Any, **kwargs: Any) -> Any:
        result = await original(*args, **kwargs)
        if not sent:
            sent.append((await post_batch(client, late)).status_code)
        return result

    monkeypatch.setattr(processing, ARRIVALS[arrives], then_a_batch_arrives)
    await run_worker_burst(settings)

    assert sent == [200]
    assert await db["recording_chunks"].count_documents({"processed": False}) == 0
