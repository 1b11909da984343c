"""Bounding what one query can answer: a static cost checked before execution, and a cap on
the size of free-form JSON, where custom events are accepted and in every answer."""

from collections import deque
from datetime import UTC, datetime
from typing import Any

import httpx
from graphql import GraphQLField, GraphQLObjectType, get_named_type, parse

from core.config import Settings
from core.derived_events import Kind
from core.json_size import MAX_JSON_VALUE_BYTES
from graph.cost import DEFAULT_MAX_COST, JSON_VALUE_COST, PER_REQUEST, list_size, query_cost
from graph.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from graph.schema import schema
from storage.database import Database
from storage.events import event_document
from storage.ids import session_key
from tests.accounts_helpers import data, error_code, sign_up
from tests.conftest import serve
from tests.events_helpers import store_derived
from tests.extraction.helpers import T0, extract, of_kind, start, track
from tests.graphql_client import gql
from tests.ingest_helpers import batch_body, post_batch, shop_events
from tests.world_fixtures import Site

GRAPHQL = schema._schema
ATTACK = "query($s: ID!) {" + " ".join(
    f"a{n}: events(siteId: $s, first: 100) {{ nodes {{ properties }} }}" for n in range(10)
) + "}"  # fmt: skip
EVENT_FIELDS = """id kind at sessionId visitorId url path selector text textMasked tag href x y
  viewportWidth pageHeight name properties message fieldType depthPx depthShare count
  signalsVersion"""
SESSION_FIELDS = """id sessionId visitorId startedAt lastActivityAt durationMs pageCount
  eventCount entryUrl exitUrl browser os deviceType country clickCount rageClickCount
  frustrated replayUrl pages { url path at }"""
STATS = """index label entered conversionFromFirst conversionFromPrevious dropped
  medianMsFromPrevious p90MsFromPrevious"""
FUNNEL_RESULT = f"""totalUnits unit steps {{ {STATS}
  droppedSessions(first: 100) {{ totalCount nodes {{ sessionId unitId visitorId lastStepAt
  replayUrl }} pageInfo {{ hasNextPage endCursor }} }} }}
  breakdown {{ value steps {{ {STATS} }} }}"""
RANGE = '{start: "2026-01-01T00:00:00Z", end: "2026-02-01T00:00:00Z"}'
# What a dashboard asks for: each must stay within the default budget.
EVERYDAY = {
    "a full page of events":
        f"{{ events(siteId: 1, first: 100) {{ nodes {{ {EVENT_FIELDS} }} }} }}",
    "a page of sessions with their pages":
        f"{{ sessions(siteId: 1) {{ nodes {{ {SESSION_FIELDS} }} }} }}",
    "a full page of sessions": "{ sessions(siteId: 1, first: 100) { nodes { id startedAt "
    "durationMs pageCount entryUrl browser country frustrated replayUrl } } }",
    "a funnel with every number": f"""{{ funnelResult(siteId: 1, range: {RANGE},
        definition: {{steps: [{{type: PAGE_VIEW}}, {{type: CLICK}}]}}) {{ {FUNNEL_RESULT} }} }}""",
    "saved funnels with results": f"""{{ funnels(siteId: 1) {{ id name steps {{ type label }}
        result(range: {RANGE}) {{ totalUnits steps {{ entered dropped }} }} }} }}""",
    "a heatmap": f"""{{ heatmap(siteId: 1, url: "/", range: {RANGE}) {{ total bands cells
        scrollReach topElements {{ selector count share }} }} }}""",
    "daily counts": f"{{ eventCounts(siteId: 1, range: {RANGE}) {{ kind bucketStart count }} }}",
    "the account": "{ viewer { id email sites { id name domains } } apiKeys { id name scopes } }",
}  # fmt: skip


def _cost(query: str, variables: dict[str, Any] | None = None) -> int:
    return query_cost(GRAPHQL, parse(query), None, variables)


def test_everyday_queries_fit_the_budget_and_the_attack_does_not() -> None:
    for name, query in EVERYDAY.items():
        assert _cost(query) <= DEFAULT_MAX_COST, (name, _cost(query))
    assert _cost(ATTACK) > 2 * DEFAULT_MAX_COST
    single = "{ events(siteId: 1, first: 100) { nodes { properties } } }"
    assert _cost(single) == 1 + 100 * (1 + JSON_VALUE_COST)


def _object_fields() -> list[tuple[GraphQLObjectType, str, GraphQLField]]:
    return [
        (type_, name, field)
        for type_ in GRAPHQL.type_map.values()
        if isinstance(type_, GraphQLObjectType) and not type_.name.startswith("__")
        for name, field in type_.fields.items()
    ]


def _paths_from_roots() -> dict[str, list[tuple[GraphQLObjectType, str]]]:
    """The shortest field path from `Query` (or `Mutation`) to every object type."""
    roots = [GRAPHQL.query_type, GRAPHQL.mutation_type]
    paths: dict[str, list[tuple[GraphQLObjectType, str]]] = {r.name: [] for r in roots if r}
    queue = deque(root for root in roots if root)
    while queue:
        type_ = queue.popleft()
        for name, field in type_.fields.items():
            inner = get_named_type(field.type)
            if isinstance(inner, GraphQLObjectType) and inner.name not in paths:
                paths[inner.name] = [*paths[type_.name], (type_, name)]
                queue.append(inner)
    return paths


def _nested(path: list[tuple[GraphQLObjectType, str]], inner: str, root: Any) -> str:
    text = inner
    for _, name in reversed(path):
        text = f"{name} {{ {text} }}"
    return ("mutation " if root is GRAPHQL.mutation_type else "") + "{ " + text + " }"


def _items(path: list[tuple[GraphQLObjectType, str]], first: int | None = None) -> int:
    """How many objects the last field of `path` can return in all, by the declared sizes."""
    times = 1
    for index, (parent, name) in enumerate(path):
        times = min(times, PER_REQUEST.get(f"{parent.name}.{name}", times))
        field = parent.fields[name]
        size = list_size(parent, name, field)
        if first is not None and index == len(path) - 1 and "first" in field.args:
            size = min(first, MAX_PAGE_SIZE)
        times *= size
    return times


def test_every_list_field_has_a_size_and_multiplies_what_is_selected_inside_it() -> None:
    paths = _paths_from_roots()
    lists = [
        (parent, name, field)
        for parent, name, field in _object_fields()
        if isinstance(get_named_type(field.type), GraphQLObjectType)
        and (list_size(parent, name, field) > 1 or "first" in field.args)
    ]
    assert len(lists) >= 15
    for parent, name, field in lists:
        path = [*paths[parent.name], (parent, name)]
        root = path[0][0]
        one = _nested(path, "__typename", root)
        two = _nested(path, "__typename again: __typename", root)
        assert _cost(two) - _cost(one) == _items(path), f"{parent.name}.{name}"
        if "first" in field.args:
            asked = _nested(path[:-1], f"{name}(first: 7) {{ __typename }}", root)
            more = _nested(path[:-1], f"{name}(first: 7) {{ __typename again: __typename }}", root)
            assert _cost(more) - _cost(asked) == _items(path, first=7), f"{parent.name}.{name}"


def test_first_counts_from_variables_and_defaults_and_at_most_the_page_limit() -> None:
    query = "query($f: Int) { events(siteId: 1, first: $f) { nodes { id } } }"
    defaulted = "query($f: Int = 60) { events(siteId: 1, first: $f) { nodes { id } } }"
    assert _cost(query, {"f": 50}) == 1 + 50 * 2
    assert _cost(query) == 1 + DEFAULT_PAGE_SIZE * 2
    assert _cost(defaulted) == 1 + 60 * 2
    assert _cost(query, {"f": 10**9}) == 1 + MAX_PAGE_SIZE * 2
    fragment = "fragment E on Event { id } { events(siteId: 1, first: 30) { nodes { ...E } } }"
    assert _cost(fragment) == 1 + 30 * 2


async def test_the_attack_query_is_refused_before_execution(client: httpx.AsyncClient) -> None:
    token = await sign_up(client, "costly@example.com")
    body = await gql(client, ATTACK, {"s": "no-such-site"}, token=token)
    assert body.get("data") is None
    assert len(body["errors"]) == 1  # no NOT_FOUND from a resolver: nothing ran
    assert error_code(body) == "QUERY_TOO_COSTLY"
    cost = _cost(ATTACK)
    assert (
        f"answer {cost} values, over the budget of {DEFAULT_MAX_COST}"
        in body["errors"][0]["message"]
    )
    one = await gql(client, ATTACK.split(" a1:")[0] + "}", {"s": "no-such-site"}, token=token)
    assert error_code(one) == "NOT_FOUND"


async def test_the_budget_is_a_setting(settings: Settings) -> None:
    cheap = settings.model_copy(update={"SIGHTLINE_GRAPHQL_MAX_COST": 1000})
    query = "{ events(siteId: 1, first: 10) { nodes { properties } } }"
    async with serve(cheap) as client:
        token = await sign_up(client, "budget@example.com")
        body = await gql(client, query, token=token)
    assert _cost(query) > 1000
    assert error_code(body) == "QUERY_TOO_COSTLY"


# The size of custom event properties.


def _properties(size: int) -> dict[str, str]:
    """Properties of exactly `size` bytes as compact JSON."""
    return {"blob": "x" * (size - len('{"blob":""}'))}


async def test_custom_event_properties_over_the_cap_are_refused_at_ingest(
    client: httpx.AsyncClient,
    site: Site,
) -> None:
    for seq, (size, status) in enumerate([(MAX_JSON_VALUE_BYTES, 200),
                                          (MAX_JSON_VALUE_BYTES + 1, 400)]):  # fmt: skip
        custom = [{"name": "big", "timestamp": 1_795_910_774_000, "properties": _properties(size)}]
        body = batch_body(site.tracking_key, shop_events()[:5], seq=seq, custom=custom)
        response = await post_batch(client, body)
        assert response.status_code == status, response.text
    assert "properties are 8193 bytes as JSON, at most 8192" in response.text


async def test_a_json_value_over_the_cap_is_not_sent(
    client: httpx.AsyncClient, site: Site, db: Database
) -> None:
    base = {"site_id": site.id, "session_id": "s-1", "visitor_id": "v-1"}
    at = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp() * 1000)
    key = session_key(site.id, "s-1")
    stored = [  # as stored before the cap: 100 KB of properties
        event_document({"_id": f"{key}:big", **base},
                       {"kind": "custom", "name": "big", "properties": _properties(100_000)}, at),
        event_document({"_id": f"{key}:small", **base},
                       {"kind": "custom", "name": "small", "properties": {"a": 1}}, at - 1),
    ]  # fmt: skip
    await store_derived(db, stored)
    query = "query($s: ID!) { events(siteId: $s) { nodes { name properties } } }"
    body = await gql(client, query, {"s": site.id}, token=site.token)
    assert body["data"]["events"]["nodes"] == [
        {"name": "big", "properties": None},
        {"name": "small", "properties": {"a": 1}},
    ]
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert error["path"] == ["events", "nodes", 0, "properties"]
    assert "100000 bytes serialized, over the limit of 8192 bytes" in error["message"]
    assert len(str(body)) < 10_000
    assert data(await gql(client, "{ apiVersion }"))["apiVersion"] == "1"


def test_properties_over_the_cap_sent_inside_the_recording_are_dropped() -> None:
    """The snippet's `custom` field is checked at ingest; a `sightline.track` event written into
    the rrweb stream itself reaches only the worker, which keeps the event without them."""
    big = {f"k{n}": "x" * 900 for n in range(10)}  # 9 KB, of strings the worker keeps whole
    fits = {f"k{n}": "x" * 900 for n in range(8)}
    events = [*start(), track(T0 + 5, "big", **big), track(T0 + 6, "fits", **fits)]
    derived = of_kind(extract(events), Kind.CUSTOM)
    assert [(e.name, e.properties) for e in derived] == [("big", None), ("fits", fits)]
