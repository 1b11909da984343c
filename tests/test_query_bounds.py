"""Every MongoDB command a GraphQL operation sends is bounded in time and in size.

A command listener (PyMongo's monitoring API) records what the API's own client
sends while every query field of the schema runs over a real, processed
recording. Each read must carry `maxTimeMS` (from the operation's time budget)
and return a bounded number of documents; a budget that is spent answers
`QUERY_TIMEOUT`, not an unexpected error.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import strawberry
from asgi_lifespan import LifespanManager
from graphql import GraphQLObjectType
from pymongo import monitoring
from redis.asyncio import Redis
from strawberry.schema import BaseSchema

from core.config import Settings
from graph.context import Context
from graph.pagination import MAX_PAGE_SIZE
from graph.schema import build_schema, schema
from service.access import ANYONE
from storage.database import Database
from storage.events import event_document
from tests.accounts_helpers import CREATE_KEY, create_key, data
from tests.app_helpers import make_app
from tests.conftest import serve
from tests.events_helpers import fold_derived
from tests.graphql_client import gql
from tests.recording_helpers import shop_session
from tests.workers_helpers import run_worker_burst
from tests.world_fixtures import new_site

READS = {"find", "aggregate", "count", "distinct"}
# Commands that cannot carry maxTimeMS: a getMore of a plain cursor is bounded by the
# client's socket timeout (the CSOT specification forbids maxTimeMS there).
UNTIMED = {"getMore", "killCursors", "endSessions"}
MAX_ROWS = 10_000
SEARCH_SORTS = {"started_at", "duration_ms", "at"}
# Equality on one of these selects one window of time: a session's start hour, a day of
# event blocks, the span or day whose hour markers are read.
TIME_BUCKETS = ("start_bucket", "day", "parent")


@dataclass
class Recorder(monitoring.CommandListener):
    """Records the commands sent to one database while armed."""

    database: str | None = None
    commands: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.database_name == self.database:
            self.commands.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


RECORDER = Recorder()
monitoring.register(RECORDER)  # only clients created after this line report to it


# Placeholders for the ids of the world a test builds.
SITE, SESSION, FUNNEL_ID, REQUEST = "<site>", "<session>", "<funnel>", "<request>"


SHOP_RANGE = {"start": "2026-11-28T00:00:00Z", "end": "2026-11-30T00:00:00Z"}
PAGE = "http://127.0.0.1:37047/shop.html"
FUNNEL = {"steps": [{"type": "PAGE_VIEW"}, {"type": "CLICK"}]}
STEPS = (
    "totalUnits steps { entered droppedSessions(first: 100) { totalCount nodes { sessionId } } }"
)
SESSION = "id sessionId replayUrl pages { url } clickCount"

Operation = tuple[str, dict[str, Any]]

# Every query field, each with its nested fields that reach the database.
OPERATIONS: dict[str, list[Operation]] = {
    "apiVersion": [("{ apiVersion }", {})],
    "viewer": [("{ viewer { id email sites { id name } } }", {})],
    "apiKeys": [("{ apiKeys { id hint } }", {})],
    "sites": [("{ sites { id signals { version } } }", {})],
    "site": [("query($s: ID!) { site(id: $s) { id name } }", {"s": SITE})],
    "sessions": [
        (
            "query($s: ID!, $o: SessionOrder, $f: SessionFilter) { sessions(siteId: $s, "
            f"first: {MAX_PAGE_SIZE}, orderBy: $o, filter: $f) {{ nodes {{ {SESSION} }} }} }}",
            {"s": SITE, "o": order, "f": filters},
        )
        for order, filters in [
            ("STARTED_AT_DESC", None),
            ("DURATION_ASC", {"urlContains": "shop", "minPages": 1}),
            ("STARTED_AT_ASC", {"frustrated": True, "browser": "Chrome"}),
        ]
    ],
    "session": [(f"query($i: ID!) {{ session(id: $i) {{ {SESSION} }} }}", {"i": SESSION})],
    "visitor": [
        (
            'query($s: ID!) { visitor(siteId: $s, id: "visitor-0001") '
            f"{{ id sessions(first: {MAX_PAGE_SIZE}) {{ nodes {{ id }} }} }} }}",
            {"s": SITE},
        )
    ],
    "events": [
        (
            f"query($s: ID!, $f: EventFilter) {{ events(siteId: $s, first: {MAX_PAGE_SIZE}, "
            "filter: $f) { nodes { id kind } pageInfo { endCursor } } }",
            {"s": SITE, "f": filters},
        )
        for filters in [None, {"kinds": ["CLICK"], "textContains": "cart"}]
    ],
    "eventCounts": [
        (
            "query($s: ID!, $r: TimeRange!, $i: Interval) "
            "{ eventCounts(siteId: $s, range: $r, interval: $i) { kind count } }",
            {"s": SITE, "r": SHOP_RANGE, "i": interval},
        )
        for interval in ["HOUR", "DAY"]
    ],
    "funnels": [
        (
            "query($s: ID!, $r: TimeRange!) "
            f"{{ funnels(siteId: $s) {{ id result(range: $r) {{ {STEPS} }} }} }}",
            {"s": SITE, "r": SHOP_RANGE},
        )
    ],
    "funnel": [
        (
            "query($i: ID!, $r: TimeRange!) "
            f"{{ funnel(id: $i) {{ name result(range: $r, unit: VISITORS) {{ {STEPS} }} }} }}",
            {"i": FUNNEL_ID, "r": SHOP_RANGE},
        )
    ],
    "funnelResult": [
        (
            "query($s: ID!, $d: FunnelDefinitionInput!, $r: TimeRange!) { funnelResult("
            "siteId: $s, definition: $d, range: $r, breakdownBy: BROWSER, "
            f'filter: {{deviceType: "desktop"}}) {{ {STEPS} breakdown {{ value }} }} }}',
            {"s": SITE, "d": FUNNEL, "r": SHOP_RANGE},
        )
    ],
    "heatmap": [
        (
            "query($s: ID!, $r: TimeRange!, $k: HeatmapKind) { heatmap(siteId: $s, "
            f'url: "{PAGE}", range: $r, kind: $k) {{ total topElements {{ selector }} }} }}',
            {"s": SITE, "r": SHOP_RANGE, "k": kind},
        )
        for kind in ["CLICK", "MOVE", "SCROLL"]
    ],
    "privacyRequests": [
        ("query($s: ID!) { privacyRequests(siteId: $s) { id status } }", {"s": SITE})
    ],
    "privacyRequest": [("query($i: ID!) { privacyRequest(id: $i) { id kind } }", {"i": REQUEST})],
}

CREATE_FUNNEL = (
    "mutation($s: ID!, $d: FunnelDefinitionInput!) "
    '{ createFunnel(siteId: $s, name: "Browse then click", definition: $d) { id } }'
)
EXPORT = 'mutation($s: ID!) { exportVisitor(siteId: $s, visitorId: "visitor-0001") { id } }'
SESSION_IDS = "query($s: ID!) { sessions(siteId: $s) { nodes { id } } }"


async def _world(client: httpx.AsyncClient, settings: Settings) -> tuple[str, dict[str, str]]:
    """The shop recording ingested and processed, a saved funnel, a key, a privacy request."""
    site = await shop_session(client)
    await run_worker_burst(settings)
    await create_key(client, site.token, ["SITES_READ"])
    site_only = {"s": site.id}
    funnel = await gql(client, CREATE_FUNNEL, {**site_only, "d": FUNNEL}, token=site.token)
    request = await gql(client, EXPORT, site_only, token=site.token)
    sessions = await gql(client, SESSION_IDS, site_only, token=site.token)
    return site.token, {
        SITE: site.id,
        SESSION: data(sessions)["sessions"]["nodes"][0]["id"],
        FUNNEL_ID: data(funnel)["createFunnel"]["id"],
        REQUEST: data(request)["exportVisitor"]["id"],
    }


@contextmanager
def recording(database: str) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    RECORDER.database, RECORDER.commands = database, []
    try:
        yield RECORDER.commands
    finally:
        RECORDER.database = None


def _filled(variables: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    return {k: ids.get(v, v) if isinstance(v, str) else v for k, v in variables.items()}


def test_every_query_field_has_operations_here() -> None:
    graphql_schema = schema._schema
    assert isinstance(graphql_schema.query_type, GraphQLObjectType)
    assert set(graphql_schema.query_type.fields) == set(OPERATIONS)


async def test_every_command_a_query_sends_is_bounded(
    settings: Settings, db: Database, redis: Redis
) -> None:
    async with serve(settings) as client:
        token, ids = await _world(client, settings)
        with recording(settings.MONGODB_DATABASE) as commands:
            for operations in OPERATIONS.values():
                for query, variables in operations:
                    data(await gql(client, query, _filled(variables, ids), token=token))
    reads = [(name, command) for name, command in commands if name in READS]
    assert {command[name] for name, command in reads} >= {
        "sessions",
        "events",
        "sites",
        "funnels",
        "heatmap_rollups",
        "privacy_requests",
    }
    searches = [c for n, c in reads if _is_search(n, c)]
    assert len(searches) >= 7
    limit = settings.SIGHTLINE_STORAGE_QUERY_TIMEOUT_MS
    assert all(c["maxTimeMS"] <= limit for c in searches), searches
    problems = [
        f"{name} {command.get(name)} {problem}: {_shown(command)}"
        for name, command in commands
        for problem in _problems(name, command)
    ]
    assert problems == []


def _is_search(name: str, command: dict[str, Any]) -> bool:
    """Session and event lists and event counts, which keep their own tighter limit."""
    if name == "aggregate":
        return command["aggregate"] == "events"
    first_sort = next(iter(command.get("sort") or {}), None)
    return command.get(name) in {"sessions", "events"} and first_sort in SEARCH_SORTS


def _problems(name: str, command: dict[str, Any]) -> list[str]:
    problems = []
    if name not in UNTIMED and not command.get("maxTimeMS"):
        problems.append("has no maxTimeMS")
    if name == "find" and not (_limited(command) or _bounded_filter(command["filter"])):
        problems.append(f"reads more than {MAX_ROWS} documents or a whole site")
    if name == "aggregate" and not _bounded_pipeline(command["pipeline"]):
        problems.append(f"aggregates more than {MAX_ROWS} documents or a whole site")
    if name == "distinct":
        problems.append("distinct has no size bound; use an aggregate")
    return problems


def _limited(command: dict[str, Any]) -> bool:
    return 0 < int(command.get("limit") or 0) <= MAX_ROWS


def _bounded_filter(query: dict[str, Any]) -> bool:
    """Documents by `_id`, or one site's documents within a closed time range or of one
    time bucket (an hour's sessions, a day's event blocks, the hour markers of one day).

    The API caps every range (`core.time_ranges.MAX_RANGE`), so a range bounds the
    scan by the site's own traffic in that window; the time budget bounds the rest.
    """
    by_id = query.get("_id")
    if isinstance(by_id, str) or (
        isinstance(by_id, dict) and len(by_id.get("$in", [])) <= MAX_ROWS and set(by_id) == {"$in"}
    ):
        return True
    bounds = [set(v) for v in query.values() if isinstance(v, dict)]
    has_lower = any(b & {"$gt", "$gte"} for b in bounds)
    has_upper = any(b & {"$lt", "$lte"} for b in bounds)
    one_bucket = any(isinstance(query.get(name), int) for name in TIME_BUCKETS)
    return isinstance(query.get("site_id"), str) and ((has_lower and has_upper) or one_bucket)


def _bounded_pipeline(pipeline: list[dict[str, Any]]) -> bool:
    for stage in pipeline:
        if "$match" in stage and _bounded_filter(stage["$match"]):
            return True
        if 0 < int(stage.get("$limit", 0)) <= MAX_ROWS:
            return True
        if "$group" in stage and not isinstance(stage["$group"]["_id"], str | dict):
            return True  # one group: a count
    return False


def _shown(command: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in command.items() if k not in {"lsid", "$db", "$clusterTime"}}


# A spent budget answers QUERY_TIMEOUT.

TIMEOUT_MESSAGE = "The query took too long; narrow the range or filters."
FUNNEL_RESULT = (
    "query($s: ID!, $d: FunnelDefinitionInput!, $r: TimeRange!) "
    "{ funnelResult(siteId: $s, definition: $d, range: $r) { totalUnits } }"
)
BUSY_DAY = datetime(2026, 3, 2, tzinfo=UTC)


async def _busy_site(client: httpx.AsyncClient, db: Database) -> tuple[str, str]:
    """A site with 4,000 sessions of a page view and a click each, on one day."""
    site = await new_site(client)
    token, site_id = site.token, site.id
    documents = []
    for n in range(4000):
        at = BUSY_DAY + timedelta(seconds=n)
        base = {"site_id": site_id, "session_id": f"s{n}", "visitor_id": f"v{n}"}
        for offset, kind in enumerate(("page_view", "click")):
            ms = int(at.timestamp() * 1000) + offset
            documents.append(
                event_document({"_id": f"{site_id}:s{n}:{kind}", **base}, {"kind": kind}, ms)
            )
    await db["events"].insert_many(documents)
    await fold_derived(db, documents)
    return token, site_id


async def test_a_heavy_query_past_its_budget_answers_query_timeout(
    settings: Settings, db: Database, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    variables = {"d": FUNNEL, "r": {"start": "2026-03-01T00:00:00Z", "end": "2026-03-09T00:00:00Z"}}
    async with serve(settings) as client:
        token, site_id = await _busy_site(client, db)
        full = await gql(client, FUNNEL_RESULT, {"s": site_id, **variables}, token=token)
        assert data(full)["funnelResult"]["totalUnits"] == 4000
    tiny = settings.model_copy(update={"SIGHTLINE_GRAPHQL_QUERY_TIMEOUT_S": 0.001})
    async with serve(tiny) as client:
        body = await gql(client, FUNNEL_RESULT, {"s": site_id, **variables}, token=token)
    assert body["data"] is None
    assert [e["extensions"] for e in body["errors"]] == [{"code": "QUERY_TIMEOUT"}]
    # Either the budget or the funnel's own limit (same code) may be the one to fire.
    assert "narrow the range" in body["errors"][0]["message"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert any("graphql.query_timeout" in str(r.msg) for r in caplog.records)


@strawberry.type
class SlowQuery:
    @strawberry.field
    async def slow_count(self, info: strawberry.Info[Context, None]) -> int:
        await asyncio.sleep(0.05)  # the budget below is 10 ms: spent before the read
        return await info.context.db["events"].count_documents({})


async def test_a_read_after_the_budget_is_spent_fails_before_it_is_sent(
    settings: Settings, db: Database, redis: Redis
) -> None:
    probe = build_schema(query=SlowQuery, mutation=None, extra_rules={"Query.slowCount": ANYONE})
    tiny = settings.model_copy(update={"SIGHTLINE_GRAPHQL_QUERY_TIMEOUT_S": 0.01})
    async with serve_schema(tiny, probe) as client:
        with recording(settings.MONGODB_DATABASE) as commands:
            body = await gql(client, "{ slowCount }")
    assert body["errors"][0]["extensions"] == {"code": "QUERY_TIMEOUT"}
    assert body["errors"][0]["message"] == TIMEOUT_MESSAGE
    assert [name for name, _ in commands if name in READS] == []


@asynccontextmanager
async def serve_schema(settings: Settings, probe: BaseSchema) -> AsyncIterator[httpx.AsyncClient]:
    application = make_app(settings, schema=probe)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


# Inputs cannot make a command large: variables are not counted by the token limit.

EVENTS_OF_KINDS = (
    "query($s: ID!, $k: [EventKind!]) { events(siteId: $s, filter: {kinds: $k}) { nodes { id } } }"
)


async def test_a_long_list_in_the_variables_does_not_reach_the_database(
    settings: Settings, db: Database, redis: Redis
) -> None:
    async with serve(settings) as client:
        site = await new_site(client)
        token, site_id = site.token, site.id
        with recording(settings.MONGODB_DATABASE) as commands:
            repeated = {"s": site_id, "k": ["CLICK", "PAGE_VIEW"] * 900}
            data(await gql(client, EVENTS_OF_KINDS, repeated, token=token))
            too_many = [f"{n:024x}" for n in range(101)]
            key = {"name": "k", "scopes": ["SITES_READ"], "siteIds": too_many}
            refused = await gql(client, CREATE_KEY, key, token=token)
    assert refused["errors"][0]["message"] == "A key can name at most 100 sites."
    events = [c for name, c in commands if name == "find" and c["find"] == "events"]
    assert [c["filter"]["kind"] for c in events] == [{"$in": ["click", "page_view"]}]
    site_lookups = [c["filter"] for name, c in commands if name == "find" and c["find"] == "sites"]
    assert all(isinstance(f["_id"], str) for f in site_lookups), site_lookups
