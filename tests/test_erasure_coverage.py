"""Every kind of erasure leaves nothing of its subject in any collection, exports included.

A visitor is exported first, so a copy of their data sits in `exports` with a
working link; after each kind of erasure the whole database is searched for the
erased ids (tests/leftovers.py: every collection, every field, compressed blobs
read), the old link no longer downloads and no new link is issued.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from core.config import Settings
from storage.database import Database
from tests.accounts_helpers import PASSWORD, data
from tests.graphql_client import gql
from tests.ingest_helpers import send_recording, shop_events
from tests.leftovers import mentions
from tests.server_clock import receive_earlier
from tests.workers_helpers import run_worker_burst
from tests.world_fixtures import Site, new_site
from workers import privacy
from workers.queue import JobQueue

ERASED_VISITOR, KEPT_VISITOR = "visitor-aaaa", "visitor-bbbb"
ERASED_SESSIONS = ["session-aaaa-1", "session-aaaa-2"]
REQUEST = """query($id: ID!) { privacyRequest(id: $id) { status outcome downloadUrl } }"""


@dataclass
class World:
    client: httpx.AsyncClient
    db: Database
    settings: Settings
    redis: Redis
    token: str
    site: Site
    account_id: str

    async def mutate(self, query: str, **variables: Any) -> dict[str, Any]:
        body = data(await gql(self.client, query, variables, token=self.token))
        result: dict[str, Any] = next(iter(body.values()))
        return result

    async def export_request(self, request_id: str) -> dict[str, Any]:
        body = data(await gql(self.client, REQUEST, {"id": request_id}, token=self.token))
        result: dict[str, Any] = body["privacyRequest"]
        return result


async def _world(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> World:
    site = await new_site(client)
    viewer = data(await gql(client, "{ viewer { id } }", token=site.token))["viewer"]
    recorded = shop_events()
    sends = [(ERASED_SESSIONS[0], ERASED_VISITOR, 0), (ERASED_SESSIONS[1], ERASED_VISITOR, 3600)]
    sends.append(("session-bbbb-1", KEPT_VISITOR, 7200))
    for session_id, visitor_id, shift_s in sends:
        events = [{**e, "timestamp": e["timestamp"] + shift_s * 1000} for e in recorded]
        await send_recording(
            client, site.tracking_key, events, session_id=session_id, visitor_id=visitor_id
        )
    await run_worker_burst(settings)
    return World(client, db, settings, redis, site.token, site, viewer["id"])


async def _erase_visitor(w: World) -> list[str]:
    query = "mutation($s: ID!, $v: String!) { eraseVisitor(siteId: $s, visitorId: $v) { id } }"
    await w.mutate(query, s=w.site.id, v=ERASED_VISITOR)
    await run_worker_burst(w.settings)
    return [ERASED_VISITOR, *ERASED_SESSIONS]


async def _erase_recordings(w: World) -> list[str]:
    start = datetime.fromtimestamp(shop_events()[0]["timestamp"] / 1000, UTC)
    window = {"start": (start - timedelta(minutes=1)).isoformat()}
    window["end"] = (start + timedelta(minutes=90)).isoformat()  # both sessions of the visitor
    query = "mutation($s: ID!, $r: TimeRange!) { eraseRecordings(siteId: $s, range: $r) { id } }"
    await w.mutate(query, s=w.site.id, r=window)
    await run_worker_burst(w.settings)
    return ERASED_SESSIONS  # the visitor record stays: only recordings were asked


async def _retention(w: World) -> list[str]:
    query = "mutation($s: ID!) { updateSite(id: $s, changes: {retentionDays: 1}) { id } }"
    await w.mutate(query, s=w.site.id)
    await receive_earlier(w.db, timedelta(days=1, hours=1), site_id=w.site.id)
    queue = JobQueue(w.redis, w.settings.SIGHTLINE_QUEUE_NAME)
    assert await privacy.schedule_retention(w.db, queue) == 1
    await run_worker_burst(w.settings)
    return [ERASED_VISITOR, KEPT_VISITOR, *ERASED_SESSIONS, "session-bbbb-1"]


async def _delete_site(w: World) -> list[str]:
    await w.mutate("mutation($s: ID!) { deleteSite(siteId: $s) { id } }", s=w.site.id)
    await run_worker_burst(w.settings)
    return [w.site.id, ERASED_VISITOR, KEPT_VISITOR, *ERASED_SESSIONS]


async def _delete_account(w: World) -> list[str]:
    await w.mutate("mutation($p: String!) { deleteAccount(password: $p) { id } }", p=PASSWORD)
    await run_worker_burst(w.settings)
    return [w.account_id, "owner@example.com", w.site.id, ERASED_VISITOR, *ERASED_SESSIONS]


ERASURES: dict[str, Callable[[World], Awaitable[list[str]]]] = {
    "erase visitor": _erase_visitor,
    "erase recordings": _erase_recordings,
    "retention": _retention,
    "delete site": _delete_site,
    "delete account": _delete_account,
}
# The privacy requests are the record a regulator sees: they name the site they were for.
RECORDS = {"delete site": {"privacy_requests"}, "delete account": {"privacy_requests"}}
STILL_OWNED = {"erase visitor", "erase recordings", "retention"}


@pytest.mark.parametrize("kind", ERASURES)
async def test_an_erasure_leaves_nothing_of_its_subject_in_any_collection(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis, kind: str
) -> None:
    w = await _world(client, db, settings, redis)
    query = "mutation($s: ID!, $v: String!) { exportVisitor(siteId: $s, visitorId: $v) { id } }"
    export = await w.mutate(query, s=w.site.id, v=ERASED_VISITOR)
    await run_worker_burst(settings)
    link = (await w.export_request(export["id"]))["downloadUrl"]
    path = link.removeprefix("http://sightline.test")
    assert (await client.get(path)).status_code == 200
    assert await db["exports"].count_documents({}) > 0

    needles = await ERASURES[kind](w)

    assert await mentions(db, needles, records=RECORDS.get(kind, set())) == []
    assert (await client.get(path)).status_code in {404, 410}
    if kind in STILL_OWNED:
        assert (await w.export_request(export["id"]))["downloadUrl"] is None


async def test_an_export_finished_after_its_visitor_was_erased_is_withdrawn(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    # The erasure's deletion of exports can run before the export writes its last slice
    # (both jobs run at once); the export then finds the tombstone and removes itself.
    w = await _world(client, db, settings, redis)
    query = "mutation($s: ID!, $v: String!) { exportVisitor(siteId: $s, visitorId: $v) { id } }"
    export = await w.mutate(query, s=w.site.id, v=ERASED_VISITOR)
    erase = "mutation($s: ID!, $v: String!) { eraseVisitor(siteId: $s, visitorId: $v) { id } }"
    erasure = await w.mutate(erase, s=w.site.id, v=ERASED_VISITOR)
    await privacy.run_privacy_request(db, settings.secret_key, erasure["id"])
    await privacy.run_privacy_request(db, settings.secret_key, export["id"])

    assert await mentions(db, [ERASED_VISITOR, *ERASED_SESSIONS]) == []
    done = await w.export_request(export["id"])
    assert done["status"] == "done"
    assert done["downloadUrl"] is None
    assert "withdrawn" in done["outcome"]
