"""MongoDB stops: ingestion answers 503 (the snippet keeps the batch and sends it again),
and once MongoDB is back the re-sent batches leave nothing missing and nothing twice."""

from redis.asyncio import Redis

from core.config import Settings
from scripts.local_services import Service
from storage.database import create_client
from tests.conftest import serve
from tests.faults import state
from tests.faults.scenario import batch, replays, session_events
from tests.ingest_helpers import batches_of, post_batch
from tests.recording_helpers import run_job
from tests.workers_helpers import run_worker_burst
from tests.world_fixtures import new_site
from workers.queue import Job

SESSION = "session-0001"


async def test_batches_refused_while_mongodb_is_down_are_stored_once_when_sent_again(
    settings: Settings, own_mongodb: Service, redis: Redis
) -> None:
    settings = settings.model_copy(
        update={"MONGODB_URL": own_mongodb.url, "SIGHTLINE_COMPACT_PART_BYTES": 1024}
    )
    sent = session_events(0)
    batches = batches_of(sent, 8)
    restarted: Service | None = None
    try:
        async with serve(settings) as client:
            site = await new_site(client)
            for seq in range(6):
                response = await post_batch(client, batch(site, SESSION, seq, batches[seq]))
                assert response.status_code == 200, response.text

            own_mongodb.stop()
            refused = list(range(6, 8))  # each waits for the server selection timeout
            for seq in refused:
                response = await post_batch(client, batch(site, SESSION, seq, batches[seq]))
                assert response.status_code == 503, response.text
                assert response.json()["code"] == "storage_unavailable"
            health = await client.get("/healthz")
            assert health.status_code == 503
            assert health.json()["services"]["mongodb"] == "down"

            restarted = own_mongodb.start_again()
            # The snippet sends the refused batches again, oldest first; batch 5 comes twice
            # too, as when a browser never got the answer to a batch that was stored.
            for seq in [5, *refused, *range(8, len(batches))]:
                response = await post_batch(client, batch(site, SESSION, seq, batches[seq]))
                assert response.status_code == 200, response.text
            assert (await client.get("/healthz")).status_code == 200

            mongo = create_client(settings.mongodb_url, app_name="sightline-tests")
            db = mongo[settings.MONGODB_DATABASE]
            try:
                assert await state.seqs_by_session(db) == {SESSION: list(range(len(batches)))}
                stored = await state.recordings(db)
                await run_worker_burst(settings)
                await run_job(settings, redis, Job.COMPACT_SESSION, site.id, SESSION)
                assert await db["recording_chunks"].count_documents({}) == 0
                assert await state.seqs_by_session(db) == {SESSION: list(range(len(batches)))}
                assert await db["events"].count_documents({"kind": "click"}) > 0
            finally:
                await mongo.close()
            played = await replays(client, site.token, site.id)
    finally:
        if restarted is not None:
            restarted.stop()
    assert played == stored
    assert [e["timestamp"] for e in played[SESSION]] == [e["timestamp"] for e in sent]
