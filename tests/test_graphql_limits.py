import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
import strawberry
from asgi_lifespan import LifespanManager
from graphql import (
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    get_named_type,
)
from structlog.stdlib import ProcessorFormatter

from core.config import Settings
from graph.api_keys import MAX_KEYS_PER_ACCOUNT
from graph.errors import UserError
from graph.limits import Limits
from graph.pagination import MAX_PAGE_SIZE
from graph.schema import build_schema, schema
from graph.sites import MAX_SITES_PER_ACCOUNT
from service.access import ANYONE
from storage import sites as storage_sites
from storage.database import Database
from storage.funnels import MAX_FUNNELS_PER_SITE
from tests.accounts_helpers import CREATE_SITE, create_site, data, sign_up
from tests.app_helpers import make_app
from tests.conftest import serve
from tests.graphql_client import gql
from tests.ingest_helpers import shop_events
from tests.world_fixtures import IngestRecording, Site


@strawberry.type
class Node:
    name: str

    @strawberry.field
    def child(self) -> "Node":
        return Node(name=self.name + "+")


@strawberry.type
class ProbeQuery:
    @strawberry.field
    def root(self) -> Node:
        return Node(name="root")

    @strawberry.field
    def boom(self) -> str:
        raise RuntimeError("database password is hunter2")

    @strawberry.field
    def refused(self) -> str:
        raise UserError("That is not allowed.")

    @strawberry.field
    def miscounted(self) -> int:
        return "many"  # type: ignore[return-value]


@pytest_asyncio.fixture
async def probe(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    schema = build_schema(
        Limits(max_depth=5, max_tokens=200, max_aliases=3),
        query=ProbeQuery,
        mutation=None,
        extra_rules={f"Query.{name}": ANYONE for name in ("root", "boom", "refused", "miscounted")},
    )
    app = make_app(settings, schema=schema)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


async def test_served_schema_answers(client: httpx.AsyncClient) -> None:
    body = await gql(client, "{ apiVersion }")
    assert body == {"data": {"apiVersion": "1"}}


async def test_too_deep_a_query_is_refused(probe: httpx.AsyncClient) -> None:
    ok = await gql(probe, "{ root { child { child { child { name } } } } }")
    assert "errors" not in ok
    body = await gql(probe, "{ root { child { child { child { child { child { name } } } } } } }")
    assert body["errors"][0]["message"] == "'anonymous' exceeds maximum operation depth of 5"
    assert body.get("data") is None


async def test_too_many_tokens_are_refused(probe: httpx.AsyncClient) -> None:
    query = "{ " + " ".join("root { name }" for _ in range(60)) + " }"
    body = await gql(probe, query)
    assert "more than 200 tokens" in body["errors"][0]["message"]


async def test_too_many_aliases_are_refused(probe: httpx.AsyncClient) -> None:
    query = "{ a: root { name } b: root { name } c: root { name } d: root { name } }"
    body = await gql(probe, query)
    assert body["errors"][0]["message"] == "4 aliases found. Allowed: 3"


async def test_aliases_hidden_in_fragments_are_counted(probe: httpx.AsyncClient) -> None:
    query = "fragment F on Node { a: name b: name } { root { ...F c: name d: name } }"
    body = await gql(probe, query)
    assert "aliases found" in body["errors"][0]["message"]


async def test_unexpected_errors_are_masked_and_logged(
    probe: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = await gql(probe, "{ boom }")
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "hunter2" not in str(body)
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    rendered = _rendered_by_our_handler(errors[0])
    assert "graphql.unexpected_error" in rendered
    assert "Traceback (most recent call last)" in rendered
    assert "RuntimeError: database password is hunter2" in rendered


def _rendered_by_our_handler(record: logging.LogRecord) -> str:
    ours = [h for h in logging.getLogger().handlers if isinstance(h.formatter, ProcessorFormatter)]
    return ours[0].format(record)


async def test_a_value_the_schema_cannot_serialize_is_masked(probe: httpx.AsyncClient) -> None:
    body = await gql(probe, "{ miscounted }")
    assert body["errors"][0]["message"] == "Unexpected error."


async def test_user_errors_reach_the_client(probe: httpx.AsyncClient) -> None:
    body = await gql(probe, "{ refused }")
    assert body["errors"][0]["message"] == "That is not allowed."


async def test_field_suggestions_are_not_offered(client: httpx.AsyncClient) -> None:
    body = await gql(client, "{ apiVersio }")
    message = body["errors"][0]["message"]
    assert "Cannot query field" in message
    assert "Did you mean" not in message


async def test_graphiql_is_served_in_development(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_graphiql_is_off_in_production(settings: Settings) -> None:
    app = make_app(settings.model_copy(update={"SIGHTLINE_ENV": "production"}))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 404 or "graphiql" not in response.text.lower()


def _production(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update={"SIGHTLINE_ENV": "production", **changes})


INTROSPECTION = "{ __schema { queryType { name } } }"
TYPE_QUERY = '{ __type(name: "Site") { name } }'


@pytest.mark.parametrize("query", [INTROSPECTION, TYPE_QUERY])
async def test_introspection_is_refused_in_production(settings: Settings, query: str) -> None:
    async with serve(_production(settings)) as client:
        body = await gql(client, query)
        typename = await gql(client, "{ __typename apiVersion }")
    assert body.get("data") is None
    assert "introspection has been disabled" in body["errors"][0]["message"]
    assert typename == {"data": {"__typename": "Query", "apiVersion": "1"}}


async def test_introspection_answers_in_development(client: httpx.AsyncClient) -> None:
    body = await gql(client, INTROSPECTION)
    assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


async def test_introspection_can_be_turned_on_in_production(settings: Settings) -> None:
    async with serve(_production(settings, SIGHTLINE_GRAPHQL_INTROSPECTION=True)) as client:
        body = await gql(client, INTROSPECTION)
    assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


async def test_introspection_can_be_turned_off_in_development(settings: Settings) -> None:
    changes = {"SIGHTLINE_GRAPHQL_INTROSPECTION": False}
    async with serve(settings.model_copy(update=changes)) as client:
        body = await gql(client, TYPE_QUERY)
    assert "introspection has been disabled" in body["errors"][0]["message"]


# fmt: off
JSON = {"Content-Type": "application/json"}
ONE = b'{"query": "{ apiVersion }"}'

BAD_REQUESTS = {
    "batch": ("POST", b'[{"query": "{ apiVersion }"}, {"query": "{ apiVersion }"}]', JSON,
              "Batched operations are not supported"),
    "string body": ("POST", b'"{ apiVersion }"', JSON, "must be one JSON object"),
    "number body": ("POST", b"42", JSON, "must be one JSON object"),
    "null body": ("POST", b"null", JSON, "must be one JSON object"),
    "not utf-8": ("POST", b'{"query": "\xff"}', JSON, "not valid UTF-8"),
    "not json": ("POST", b"{query", JSON, "not valid JSON"),
    "empty body": ("POST", b"", JSON, "not valid JSON"),
    "text/plain": ("POST", ONE, {"Content-Type": "text/plain"}, "Content-Type: application/json"),
    "no content type": ("POST", ONE, {}, "Content-Type: application/json"),
    "form": ("POST", b"query=%7BapiVersion%7D",
             {"Content-Type": "application/x-www-form-urlencoded"}, "application/json"),
    "missing query": ("POST", b"{}", JSON, "No GraphQL query found"),
    "nested too deeply": ("POST", b'{"query": "{ apiVersion }", "x": ' + b"[" * 100_000
                          + b"]" * 100_000 + b"}", JSON, "nests JSON too deeply"),
    "query not a string": ("POST", b'{"query": 1}', JSON, "`query` must be a string"),
    "variables not an object": ("POST", b'{"query": "{ apiVersion }", "variables": [1]}', JSON,
                                "`variables` must be an object"),
}
# fmt: on


@pytest.mark.parametrize("case", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
async def test_unusable_requests_get_a_clear_400(
    client: httpx.AsyncClient, case: tuple[str, bytes, dict[str, str], str]
) -> None:
    method, content, headers, message = case
    response = await client.request(method, "/graphql", content=content, headers=headers)
    assert response.status_code == 400
    assert message in response.json()["errors"][0]["message"]
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_batch_runs_none_of_its_operations(client: httpx.AsyncClient) -> None:
    batch = [
        {
            "query": 'mutation { signUp(email: "b@x.io", password: "long enough pw", name: "B")'
            " { token } }"
        }
    ] * 2
    response = await client.post("/graphql", json=batch)
    assert response.status_code == 400
    body = await gql(client, "{ __typename }")
    login = await gql(
        client, 'mutation { logIn(email: "b@x.io", password: "long enough pw") { token } }'
    )
    assert body == {"data": {"__typename": "Query"}}
    assert login["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("operation", ["{ apiVersion }", "mutation { logOut }"])
async def test_get_runs_no_operation(client: httpx.AsyncClient, operation: str) -> None:
    response = await client.get("/graphql", params={"query": operation})
    assert response.status_code == 400
    assert "POST" in response.json()["errors"][0]["message"]


async def test_other_methods_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.put("/graphql", content=ONE, headers=JSON)
    assert response.status_code == 405
    assert "POST" in response.json()["errors"][0]["message"]


async def test_an_oversized_body_is_refused_with_413(client: httpx.AsyncClient) -> None:
    variables = {"name": "x" * 2**20}
    response = await client.post(
        "/graphql", json={"query": "query($name: String) { apiVersion }", "variables": variables}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["message"] == (
        "The request body is larger than the limit of 1048576 bytes."
    )


async def test_an_oversized_body_without_length_is_refused_while_read(
    client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ apiVersion }", "variables": {"x": "'
        for _ in range(40):
            yield b"y" * 32_768
        yield b'"}}'

    response = await client.post("/graphql", content=chunks(), headers=JSON)
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


async def test_a_body_under_the_limit_is_served(settings: Settings) -> None:
    small = settings.model_copy(update={"SIGHTLINE_GRAPHQL_MAX_BODY_BYTES": 2048})
    padding = " " * 1900
    async with serve(small) as client:
        ok = await client.post(
            "/graphql",
            content=b'{"query": "{ apiVersion }"' + padding.encode() + b"}",
            headers=JSON,
        )
        too_big = await client.post(
            "/graphql",
            content=b'{"query": "{ apiVersion }"' + padding.encode() * 2 + b"}",
            headers=JSON,
        )
    assert ok.json() == {"data": {"apiVersion": "1"}}
    assert too_big.status_code == 413


EVENT_COUNTS = """
query($site: ID!, $start: DateTime!, $end: DateTime!) {
  eventCounts(siteId: $site, range: {start: $start, end: $end}) { count }
}"""
SESSIONS_AFTER = """
query($site: ID!, $after: DateTime!) {
  sessions(siteId: $site, filter: {startedAfter: $after}) { nodes { id } }
}"""


async def test_a_range_may_mix_times_with_and_without_offset(
    client: httpx.AsyncClient, site: Site
) -> None:
    variables = {"site": site.id, "start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00Z"}
    body = await gql(client, EVENT_COUNTS, variables, token=site.token)
    assert body == {"data": {"eventCounts": []}}


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_a_time_outside_the_calendar_in_utc_is_refused(
    client: httpx.AsyncClient, site: Site, moment: str
) -> None:
    body = await gql(client, SESSIONS_AFTER, {"site": site.id, "after": moment}, token=site.token)
    message = body["errors"][0]["message"]
    assert "It falls outside the years 1 to 9999 in UTC." in message
    assert moment in message


async def test_a_malformed_datetime_variable_is_the_callers_error(
    client: httpx.AsyncClient, site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    body = await gql(
        client, SESSIONS_AFTER, {"site": site.id, "after": "yesterday"}, token=site.token
    )
    assert 'Value cannot represent a DateTime: "yesterday"' in body["errors"][0]["message"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def _named(type_: GraphQLOutputType) -> tuple[bool, GraphQLNamedType]:
    """Whether `type_` is a list, and the named type inside it."""
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    is_list = isinstance(type_, GraphQLList)
    return is_list, get_named_type(type_)


def _list_fields() -> dict[str, set[str]]:
    """Root fields returning lists and fields returning connections, with their arguments."""
    graphql_schema = schema._schema
    found: dict[str, set[str]] = {}
    for type_ in graphql_schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            is_list, inner = _named(field.type)
            root_list = type_ is graphql_schema.query_type and is_list
            if root_list or inner.name.endswith("Connection"):
                found[f"{type_.name}.{name}"] = set(field.args)
    return found


# fmt: off
# Lists without `first`, and what bounds them instead.
BOUNDED_WITHOUT_FIRST = {
    "Query.apiKeys": f"at most {MAX_KEYS_PER_ACCOUNT} keys per account",
    "Query.sites": f"at most {MAX_SITES_PER_ACCOUNT} sites per account",
    "Query.funnels": f"at most {MAX_FUNNELS_PER_SITE} funnels per site",
    "Query.eventCounts": "one row per kind and bucket of a range of at most 400 days",
}

ARGS = "query($s: ID!, $f: Int)"
PAGED = {
    "Query.sessions": ARGS + "{ sessions(siteId: $s, first: $f) { nodes { id } } }",
    "Query.events": ARGS + "{ events(siteId: $s, first: $f) { nodes { id } } }",
    "Query.privacyRequests": ARGS + "{ privacyRequests(siteId: $s, first: $f) { id } }",
    "Visitor.sessions": ARGS + """{
        visitor(siteId: $s, id: "visitor-0001") { sessions(first: $f) { nodes { id } } } }""",
    "FunnelStep.droppedSessions": ARGS + """{
        funnelResult(siteId: $s,
          range: {start: "2020-01-01T00:00:00Z", end: "2021-01-01T00:00:00Z"},
          definition: {steps: [{type: PAGE_VIEW}, {type: CLICK}]}) {
          steps { droppedSessions(first: $f) { totalCount } } } }""",
}
# fmt: on


def test_every_list_field_is_paged_or_bounded() -> None:
    fields = _list_fields()
    unbounded = {
        n for n, args in fields.items() if "first" not in args
    } - BOUNDED_WITHOUT_FIRST.keys()
    assert unbounded == set()
    assert {n for n, args in fields.items() if "first" in args} == PAGED.keys()


async def test_every_paged_field_refuses_a_page_size_out_of_bounds(
    client: httpx.AsyncClient, site: Site, ingest_recording: IngestRecording, settings: Settings
) -> None:
    await ingest_recording(site, events=shop_events()[:40])
    for name, query in PAGED.items():
        ok = await gql(client, query, {"s": site.id, "f": MAX_PAGE_SIZE}, token=site.token)
        assert "errors" not in ok, (name, ok)
        for first in (100_000, 101, 0, -1):
            body = await gql(client, query, {"s": site.id, "f": first}, token=site.token)
            messages = {error["message"] for error in body["errors"]}
            assert messages == {"`first` must be between 1 and 100."}, (name, first, body)


async def test_an_account_has_at_most_its_share_of_sites(
    client: httpx.AsyncClient, db: Database
) -> None:
    token = await sign_up(client, "many@example.com")
    first = await create_site(client, token)
    viewer = data(await gql(client, "{ viewer { id } }", token=token))["viewer"]
    for n in range(MAX_SITES_PER_ACCOUNT - 1):
        await storage_sites.create_site(db, account_id=viewer["id"], name=f"s{n}", domains=["a.io"])
    body = await gql(client, CREATE_SITE, {"name": "one more", "domains": ["b.io"]}, token=token)
    listed = data(await gql(client, "{ sites { id } viewer { sites { id } } }", token=token))
    assert body["errors"][0]["message"] == "An account can have at most 100 sites."
    assert len(listed["sites"]) == len(listed["viewer"]["sites"]) == MAX_SITES_PER_ACCOUNT
    assert first["id"] in {site["id"] for site in listed["sites"]}


async def test_privacy_requests_are_listed_newest_first_up_to_first(
    client: httpx.AsyncClient,
    site: Site,
) -> None:
    erase = "mutation($s: ID!, $v: String!) { eraseVisitor(siteId: $s, visitorId: $v) { id } }"
    made = []
    for visitor in ("v1", "v2", "v3"):
        body = await gql(client, erase, {"s": site.id, "v": visitor}, token=site.token)
        made.append(data(body)["eraseVisitor"]["id"])
    query = PAGED["Query.privacyRequests"]
    two = data(await gql(client, query, {"s": site.id, "f": 2}, token=site.token))
    every = data(await gql(client, query, {"s": site.id}, token=site.token))
    assert [r["id"] for r in two["privacyRequests"]] == made[::-1][:2]
    assert [r["id"] for r in every["privacyRequests"]] == made[::-1]


HEATMAP = """
query($site: ID!, $width: Int) {
  heatmap(siteId: $site, url: "https://shop.example/", viewportWidth: $width,
          range: {start: "2026-01-01T00:00:00Z", end: "2026-01-02T00:00:00Z"}) { total }
}"""
WINDOW = """
query($site: ID!, $window: Float) {
  funnelResult(siteId: $site, definition: {conversionWindowMs: $window,
                 steps: [{type: PAGE_VIEW}, {type: CLICK}]},
               range: {start: "2026-01-01T00:00:00Z", end: "2026-01-02T00:00:00Z"}) { totalUnits }
}"""
SITE = "query($site: ID!) { site(id: $site) { id } }"
# fmt: off
BAD_VARIABLES = {
    "Int too large": (HEATMAP, "width", 2**40, "Int cannot represent non 32-bit signed integer"),
    "Int given a float": (HEATMAP, "width", 1.5, "Int cannot represent non-integer value"),
    "Float infinite": (WINDOW, "window", float("inf"), "Float cannot represent non numeric"),
    "Float not a number": (WINDOW, "window", float("nan"), "Float cannot represent non numeric"),
    "ID given a list": (SITE, "site", ["a"], "ID cannot represent value"),
    "ID given an object": (SITE, "site", {"$gt": ""}, "ID cannot represent value"),
}
# fmt: on


@pytest.mark.parametrize("case", BAD_VARIABLES.values(), ids=BAD_VARIABLES.keys())
async def test_a_variable_of_the_wrong_type_is_the_callers_error(
    client: httpx.AsyncClient,
    site: Site,
    caplog: pytest.LogCaptureFixture,
    case: tuple[str, str, Any, str],
) -> None:
    query, name, value, message = case
    variables = {"site": site.id, name: value}
    content = json.dumps({"query": query, "variables": variables}).encode()  # NaN and Infinity
    headers = {"Authorization": f"Bearer {site.token}", **JSON}
    body = (await client.post("/graphql", content=content, headers=headers)).json()
    assert f"Variable '${name}' has invalid value: {message}" in body["errors"][0]["message"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_variables_hold_no_more_values_than_a_query_has_tokens(
    client: httpx.AsyncClient,
) -> None:
    steps = [{"type": "CLICK"}] * 5000  # 1 MiB of these held the event loop for 18 s
    query = "query($steps: [FunnelStepInput!]!) { __typename }"
    response = await client.post("/graphql", json={"query": query, "variables": {"steps": steps}})
    body = response.json()
    assert response.status_code == 400
    assert body["errors"][0]["message"] == "The variables hold more than 2000 values."
    token = await sign_up(client, "values@example.com")
    domains = [f"shop{i}.example" for i in range(50)]
    created = await gql(client, CREATE_SITE, {"name": "Big", "domains": domains}, token=token)
    assert len(data(created)["createSite"]["id"]) > 0
