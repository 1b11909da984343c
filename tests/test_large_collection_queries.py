"""Every command the application sends to a large collection selects its rows by equality.

FerretDB pushes only top-level equality down to PostgreSQL; anything else (`$in`, ranges,
`$or`, `$and`) is applied in Go after every row of the collection was decoded. So on the
collections that grow with traffic (`LARGE_COLLECTIONS`) every find, update, delete, count,
distinct and aggregation must carry a top-level equality on `site_id` (or on `_id`), and
never `_id: {$in: …}` (not pushed down, even beside other fields, on FerretDB).

The commands are the real ones: PyMongo's command monitoring on the clients the API and the
workers build, while a realistic flow runs (ingest through the API, processing, heatmap
rollups, compaction, the sweeps, a funnel with its drop-offs, session and event lists,
a replay, a visitor's erasure). A form that legitimately selects otherwise is listed in
`ALLOWED` with its reason, and every entry must still be seen, so the list cannot go stale.
"""

import traceback
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)
from redis.asyncio import Redis

from core.config import Settings
from storage import event_blocks
from storage.database import Client, Database, create_client, database_of
from storage.hot_queries import LARGE_COLLECTIONS
from tests.accounts_helpers import data
from tests.app_helpers import make_app
from tests.graphql_client import gql
from tests.ingest_helpers import send_recording, shop_events
from tests.workers_helpers import run_worker_burst
from tests.world_fixtures import new_site
from workers import recording_jobs
from workers.queue import Job, JobQueue

# Forms that legitimately select otherwise on a large collection, and why: (the storage
# function that sent it, collection or ANY, command, filter shape as `shape` writes it).
ANY = "*"
ALLOWED: dict[tuple[str, str, str, str], str] = {
    ("storage/recordings.py:unprocessed_sessions", "recording_chunks", "find",
     "processed=,received_at{$lt}"):
        "the outbox sweep, once a minute across sites: chunks not processed yet",
    ("storage/sessions.py:quiet_sessions", "sessions", "find",
     "last_chunk_at{$lt},needs_compaction="):
        "the compaction sweep, once a minute across sites",
    ("storage/migrate.py:run_step", "sessions", "find", ""):
        "a data migration: one pass in `_id` order per step, run once (at start-up until done)",
}  # fmt: skip


def allowed_by(entry: tuple[str, str, str, str], form: tuple[str, str, str, str]) -> bool:
    origin, collection, command, filter_shape = entry
    return (origin, command, filter_shape) == (form[0], form[2], form[3]) and collection in (
        ANY,
        form[1],
    )


ROOT = Path(__file__).resolve().parent.parent
STORAGE = ROOT / "storage"
# Commands whose filter selects rows, and where the filter sits in each.
FILTERED = ("find", "update", "delete", "findAndModify", "count", "distinct", "aggregate")


@dataclass(frozen=True)
class Sent:
    origin: str
    collection: str
    command: str
    filter: dict[str, Any]

    @property
    def form(self) -> tuple[str, str, str, str]:
        return self.origin, self.collection, self.command, shape(self.filter)


class Recorder(CommandListener):
    """A PyMongo command listener keeping the commands sent to one database."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.commands: list[tuple[str, str, dict[str, Any]]] = []

    def started(self, event: CommandStartedEvent) -> None:
        if event.database_name == self.database:
            self.commands.append((_origin(), event.command_name, dict(event.command)))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass

    def filters(self) -> Iterator[Sent]:
        for origin, name, command in self.commands:
            if name in FILTERED:
                for query in _filters_of(name, command):
                    yield Sent(origin, command[name], name, query)


def _origin() -> str:
    """The innermost function of `storage/` on the stack (comprehensions skipped): the
    listener runs in the task that sends the command, so the stack is its awaiting chain."""
    for frame in reversed(traceback.extract_stack()):
        path = Path(frame.filename)
        if path.is_relative_to(STORAGE) and not frame.name.startswith("<"):
            return f"{path.relative_to(ROOT)}:{frame.name}"
    return "(not storage)"


def _filters_of(name: str, command: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if name == "update":
        yield from (u["q"] for u in command["updates"])
    elif name == "delete":
        yield from (d["q"] for d in command["deletes"])
    elif name in ("findAndModify", "count", "distinct"):
        yield command.get("query") or {}
    elif name == "aggregate":
        yield (command.get("pipeline") or [{}])[0].get("$match") or {}
    else:
        yield command.get("filter") or {}


def shape(query: dict[str, Any]) -> str:
    """`a=,b{$gte,$lt}`: each top-level field with its operators, or `=` for equality."""
    parts = []
    for key in sorted(query):
        value = query[key]
        if isinstance(value, dict) and any(str(k).startswith("$") for k in value):
            parts.append(f"{key}{{{','.join(sorted(value))}}}")
        else:
            parts.append(f"{key}=")
    return ",".join(parts)


def _ids_in(query: Any) -> bool:
    """Whether `_id: {$in: …}` appears anywhere in the filter, `$and`/`$or` included."""
    if isinstance(query, list):
        return any(_ids_in(item) for item in query)
    if not isinstance(query, dict):
        return False
    found = isinstance(query.get("_id"), dict) and "$in" in query["_id"]
    return found or any(_ids_in(value) for value in query.values())


def _equality_on(query: dict[str, Any], field: str) -> bool:
    return field in query and not isinstance(query[field], dict | list)


def selects_by_equality(query: dict[str, Any]) -> bool:
    return not _ids_in(query) and (_equality_on(query, "site_id") or _equality_on(query, "_id"))


def test_the_check_tells_the_forms_apart() -> None:
    site = {"site_id": "s"}
    assert selects_by_equality({**site, "session_id": "x", "seq": {"$in": [1, 2]}})
    assert selects_by_equality({"_id": "k", **site})
    assert not selects_by_equality({**site, "_id": {"$in": ["a"]}})
    assert not selects_by_equality({"$and": [site, {"$or": [{"at": 1}]}]})
    assert not selects_by_equality({"site_id": {"$in": ["s"]}})
    assert not selects_by_equality({"processed": False})
    assert shape({"b": {"$lt": 1, "$gte": 0}, "a": 1}) == "a=,b{$gte,$lt}"


# The flow.

FUNNEL = """query($s: ID!, $r: TimeRange!) {
  funnelResult(siteId: $s, range: $r, definition: {steps: [{type: PAGE_VIEW},
      {type: CUSTOM, name: "never sent"}]}) {
    totalUnits steps { droppedSessions(first: 10) { nodes { sessionId visitorId replayUrl } } }
  }
}"""
SESSIONS = "query($s: ID!) { sessions(siteId: $s, first: 10) { nodes { id replayUrl } } }"
EVENTS = """query($s: ID!, $after: String) {
  events(siteId: $s, first: 2, after: $after) { nodes { kind } pageInfo { endCursor } }
}"""
COUNTS = "query($s: ID!, $r: TimeRange!) { eventCounts(siteId: $s, range: $r) { kind count } }"
ERASE = "mutation($s: ID!, $v: String!) { eraseVisitor(siteId: $s, visitorId: $v) { id } }"
RANGE = {"start": "2026-11-28T00:00:00Z", "end": "2026-11-30T00:00:00Z"}  # the shop recording
SENDS = [("session-aaaa-1", "visitor-aaaa"), ("session-aaaa-2", "visitor-aaaa"),
         ("session-bbbb-1", "visitor-bbbb")]  # fmt: skip


@dataclass
class Flow:
    settings: Settings
    client: httpx.AsyncClient
    recorder: Recorder
    db: Database
    queue: JobQueue

    async def workers(self) -> None:
        await run_worker_burst(self.settings, listeners=[self.recorder])

    async def ask(self, query: str, token: str, **variables: Any) -> dict[str, Any]:
        return data(await gql(self.client, query, variables, token=token))


@pytest_asyncio.fixture
async def flow(settings: Settings, db: Database, redis: Redis) -> AsyncIterator[Flow]:
    recorder = Recorder(settings.MONGODB_DATABASE)
    app = make_app(settings, listeners=[recorder])
    mongo: Client = create_client(settings.mongodb_url, app_name="tests", listeners=[recorder])
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sightline.test") as c:
            queue = JobQueue(redis, settings.SIGHTLINE_QUEUE_NAME)
            yield Flow(settings, c, recorder, database_of(mongo, db.name), queue)
    await mongo.close()


async def _run(flow: Flow) -> None:
    site = await new_site(flow.client)
    for shift, (session_id, visitor_id) in enumerate(SENDS):
        events = [{**e, "timestamp": e["timestamp"] + shift * 600_000} for e in shop_events()]
        await send_recording(
            flow.client, site.tracking_key, events, session_id=session_id, visitor_id=visitor_id
        )
    await flow.workers()  # extraction and click rollups
    context = {"db": flow.db, "settings": flow.settings, "queue": flow.queue}
    await recording_jobs.sweep_recordings(context)
    for session_id, _ in SENDS:
        await flow.queue.enqueue(Job.COMPACT_SESSION, site.id, session_id)
    await flow.workers()  # final extraction, scroll rollups, compaction

    funnel = await flow.ask(FUNNEL, site.token, s=site.id, r=RANGE)
    assert funnel["funnelResult"]["totalUnits"] == len(SENDS)
    sessions = (await flow.ask(SESSIONS, site.token, s=site.id))["sessions"]["nodes"]
    replay = await flow.client.get(sessions[0]["replayUrl"].removeprefix("http://sightline.test"))
    assert replay.status_code == 200
    first = (await flow.ask(EVENTS, site.token, s=site.id))["events"]
    cursor = first["pageInfo"]["endCursor"]
    assert (await flow.ask(EVENTS, site.token, s=site.id, after=cursor))["events"]["nodes"]
    assert (await flow.ask(COUNTS, site.token, s=site.id, r=RANGE))["eventCounts"]
    await flow.ask(ERASE, site.token, s=site.id, v="visitor-aaaa")
    await flow.workers()


async def test_every_query_on_a_large_collection_selects_by_equality(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_blocks, "FOLD_AT", 1)  # so the flow folds its blocks too
    await _run(flow)

    sent = [s for s in flow.recorder.filters() if s.collection in LARGE_COLLECTIONS]
    seen = {s.form for s in sent}
    offending = {
        s.form
        for s in sent
        if not selects_by_equality(s.filter) and not any(allowed_by(e, s.form) for e in ALLOWED)
    }
    assert sorted(offending) == [], "\n".join(map(str, sorted(offending)))
    stale = [e for e in ALLOWED if not any(allowed_by(e, form) for form in seen)]
    assert stale == []  # every exception is still needed
    assert "(not storage)" not in {s.origin for s in sent}
    for collection in LARGE_COLLECTIONS:  # the flow read and wrote each large collection
        commands = {s.command for s in sent if s.collection == collection}
        assert "find" in commands, collection
        assert commands & {"delete", "update"}, (collection, commands)
