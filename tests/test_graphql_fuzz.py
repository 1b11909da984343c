"""Schema-driven fuzzing of every query and mutation the API serves (schemathesis).

The API runs under uvicorn on a loopback port, against the test's FerretDB and
Redis, with an account that has a site, an ingested and processed recording, a
funnel, a privacy request and API keys. Schemathesis reads the served schema and
generates valid operations for each root field; ID arguments are drawn from the
real objects (or random text) so resolvers reach real data. Every answer must be
a 2xx/4xx GraphQL response without a masked "Unexpected error.".

The run is deterministic (`derandomize`); `SIGHTLINE_FUZZ_EXAMPLES=200` explores
more and with fresh random inputs.
"""

import asyncio
import os
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest_asyncio
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from schemathesis.graphql import nodes

from core.config import Settings
from graph.schema import schema as served_schema
from storage.database import Database
from tests.accounts_helpers import PASSWORD, create_key, data
from tests.app_helpers import make_app
from tests.graphql_client import gql
from tests.ingest_helpers import send_recording, shop_events
from tests.workers_helpers import run_worker_burst
from tests.world_fixtures import new_site

EXPLORE = int(os.environ.get("SIGHTLINE_FUZZ_EXAMPLES", "0"))
ALL_SCOPES = [
    "SITES_READ",
    "SITES_WRITE",
    "RECORDINGS_READ",
    "RECORDINGS_WRITE",
    "ANALYTICS_READ",
    "ANALYTICS_WRITE",
    "PRIVACY",
]
ROOT_FIELDS = {
    f"{root.name}.{name}"
    for root in (served_schema._schema.query_type, served_schema._schema.mutation_type)
    if root is not None
    for name in root.fields
}
# Run last: each of them can end the run's access or remove its data.
LAST = (
    "Mutation.deleteFunnel",
    "Mutation.deleteSite",
    "Mutation.deleteAccount",
    "Mutation.logOut",
)

CREATE_FUNNEL = """
mutation($s: ID!) {
  createFunnel(siteId: $s, name: "Checkout", definition: {steps: [
    {type: PAGE_VIEW, urlMatch: {field: PATH, op: CONTAINS, value: "shop"}},
    {type: CLICK, textContains: "Add to cart"}]}) { id }
}"""
EXPORT = 'mutation($s: ID!) { exportVisitor(siteId: $s, visitorId: "visitor-0001") { id } }'
SESSIONS = "query($s: ID!) { sessions(siteId: $s) { nodes { id sessionId visitorId } } }"


class LiveApi:
    """`create_app(settings)` under uvicorn in a thread of its own, on a free port."""

    def __init__(self, settings: Settings) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(make_app(settings), log_config=None, access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    async def __aenter__(self) -> "LiveApi":
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("The API did not start under uvicorn.")
            await asyncio.sleep(0.05)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.should_exit = True
        await asyncio.to_thread(self._thread.join, 10)
        self._socket.close()


@dataclass
class World:
    url: str
    token: str
    api_key: str
    ids: list[str]
    strings: list[str]
    problems: list[str] = field(default_factory=list)


@pytest_asyncio.fixture
async def world(settings: Settings, db: Database, redis: Redis) -> AsyncIterator[World]:
    async with LiveApi(settings) as api, httpx.AsyncClient(base_url=api.url, timeout=30) as c:
        site = await new_site(c, "fuzz@example.com")
        await send_recording(c, site.tracking_key, shop_events(), batch_size=200)
        await run_worker_burst(settings)
        session = data(await gql(c, SESSIONS, {"s": site.id}, token=site.token))["sessions"]
        funnel = data(await gql(c, CREATE_FUNNEL, {"s": site.id}, token=site.token))
        request = data(await gql(c, EXPORT, {"s": site.id}, token=site.token))
        spare = await create_key(c, site.token, ["SITES_READ"], name="spare")
        key = await create_key(c, site.token, ALL_SCOPES, site_ids=[site.id])
        viewer = data(await gql(c, "{ viewer { id } }", token=site.token))["viewer"]
        node = session["nodes"][0]
        ids = [site.id, node["id"], funnel["createFunnel"]["id"], viewer["id"]]
        ids += [request["exportVisitor"]["id"], spare["apiKey"]["id"]]
        strings = [node["visitorId"], node["sessionId"], "fuzz@example.com", PASSWORD]
        yield World(api.url, site.token, key["secret"], ids, strings)


OFFSETS = st.none() | st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
NOW = datetime.now(UTC).replace(tzinfo=None)
# Near the recorded data, at either end of the calendar, or anywhere; with any offset or
# none (schemathesis's own strategy only sends UTC, anywhere, so ranges are nearly all refused).
MOMENTS = st.one_of(
    st.datetimes(min_value=NOW - timedelta(days=30), max_value=NOW + timedelta(days=30)),
    st.datetimes(max_value=datetime(1, 1, 3)),
    st.datetimes(min_value=datetime(9999, 12, 29)),
    st.datetimes(),
)
DATETIMES = st.builds(
    lambda moment, offset: moment.replace(tzinfo=offset).isoformat(), MOMENTS, OFFSETS
)


def _register_scalars(world: World) -> None:
    """IDs and strings from the account's real objects, or anything else."""
    schemathesis.graphql.scalar("DateTime", DATETIMES.map(nodes.String))
    real = st.sampled_from(world.ids)
    ids = st.one_of(real, real, real, st.text(max_size=40))
    schemathesis.graphql.scalar("ID", ids.map(nodes.String))
    strings = st.sampled_from(world.strings) | st.text(max_size=80)
    schemathesis.graphql.scalar("String", strings.map(nodes.String))


def _ordered(operations: Iterable[Any]) -> list[Any]:
    def rank(operation: Any) -> tuple[int, int, str]:
        label = operation.label
        last = LAST.index(label) if label in LAST else -1
        return (label.startswith("Mutation"), last, label)

    return sorted(operations, key=rank)


def _check(case: Any, response: Any) -> str | None:
    where = f"{case.operation.label} {case.body!r}"
    if response.status_code >= 500:
        return f"{where}: HTTP {response.status_code} {response.text[:300]}"
    try:
        body = response.json()
    except ValueError:
        return f"{where}: not JSON: {response.text[:300]}"
    messages = [error.get("message") for error in body.get("errors") or []]
    if "Unexpected error." in messages:
        return f"{where}: masked unexpected error {body}"
    return None


def _fuzz(world: World, operation: Any, examples: int, headers: dict[str, str]) -> None:
    session = requests.Session()

    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=not EXPLORE,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    def run(case: Any) -> None:
        response = case.call(base_url=world.url, headers=headers, session=session, timeout=60)
        problem = _check(case, response)
        if problem is not None:
            world.problems.append(problem)
        assert problem is None, problem

    try:
        run()
    except AssertionError:
        pass  # recorded in world.problems, so that every operation still runs
    finally:
        session.close()


def _run_all(world: World, examples: int, headers: dict[str, str]) -> list[str]:
    _register_scalars(world)
    schema = schemathesis.graphql.from_url(f"{world.url}/graphql", headers=headers)
    operations = _ordered(result.ok() for result in schema.get_all_operations())
    assert {op.label for op in operations} == ROOT_FIELDS
    for operation in operations:
        _fuzz(world, operation, examples, headers)
    return world.problems


async def _fuzz_with(world: World, examples: int, credential: str) -> None:
    headers = {"Authorization": f"Bearer {credential}"}
    run: Callable[[], list[str]] = lambda: _run_all(world, EXPLORE or examples, headers)  # noqa: E731
    problems = await asyncio.to_thread(run)
    assert problems == [], "\n".join(problems)


async def test_every_operation_survives_fuzzing_with_a_session_token(world: World) -> None:
    await _fuzz_with(world, 12, world.token)


async def test_every_operation_survives_fuzzing_with_an_api_key(world: World) -> None:
    await _fuzz_with(world, 5, world.api_key)


def test_the_fuzzer_reports_a_masked_error() -> None:
    class Response:
        status_code = 200
        text = ""

        @staticmethod
        def json() -> dict[str, Any]:
            return {"data": None, "errors": [{"message": "Unexpected error."}]}

    class Case:
        body = {"query": "{ x }"}

        class operation:
            label = "Query.x"

    assert "masked unexpected error" in str(_check(Case(), Response()))
