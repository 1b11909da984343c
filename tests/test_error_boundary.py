"""One error boundary: hostile input is refused at the door, outages answer 503, bugs INTERNAL.

Every argument of every query and mutation, down to each leaf of its input types
(walked from the built schema, so a new field or argument is covered without
editing this file), gets a lone surrogate, a 5,000-digit integer and an over-long
string, one leaf at a time, as a variable and as an inline literal, while the
other arguments hold plain valid values. Each must be refused with `BAD_REQUEST`,
never answered "Unexpected error.", `INTERNAL` or a 5xx. Every HTTP route (walked
from `app.routes`) gets hostile values in each query parameter it reads and in
each path parameter, and must not answer 5xx.
"""

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
    get_named_type,
)
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.routing import Route

from core.config import Settings
from core.errors import ANSWERS, INTERNAL
from core.inputs import MAX_TEXT_CHARS
from graph.limits import Limits
from graph.schema import build_schema, schema
from scripts.local_services import Service
from service.access import ANYONE
from tests.accounts_helpers import sign_up
from tests.app_helpers import make_app
from tests.conftest import serve
from tests.graphql_client import gql
from tests.test_graphql_limits import ProbeQuery
from tests.world_fixtures import new_site

HUGE = "<huge integer>"  # a placeholder: json cannot write a 5,000-digit int itself
HUGE_DIGITS = "1" + "0" * 4999
SURROGATE = "\ud800"
LONG = "x" * (MAX_TEXT_CHARS * 5)
HOSTILE: dict[str, object] = {
    "lone surrogate": SURROGATE,
    "NUL": "a\x00b",
    "huge integer": HUGE,
    "long": LONG,
}


@dataclass(frozen=True)
class World:
    client: httpx.AsyncClient
    token: str
    site_id: str


@pytest_asyncio.fixture
async def world(client: httpx.AsyncClient) -> World:
    site = await new_site(client, "boundary@example.com", domains=["shop.example"])
    return World(client, site.token, site.id)


# --- values for GraphQL input types, built from the schema ------------------------------


def _plain(type_: GraphQLInputType, name: str, world: World) -> object:
    """A valid-looking value of `type_`: required input fields only, lists of one."""
    if isinstance(type_, GraphQLNonNull):
        return _plain(type_.of_type, name, world)
    if isinstance(type_, GraphQLList):
        return [_plain(type_.of_type, name, world)]
    if isinstance(type_, GraphQLInputObjectType):
        return {n: _plain(f.type, n, world) for n, f in type_.fields.items() if _required(f)}
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    return _plain_scalar(type_, name, world)


def _plain_scalar(type_: GraphQLInputType, name: str, world: World) -> object:
    assert isinstance(type_, GraphQLScalarType), type_
    now = datetime.now(UTC)
    start = name in {"start", "from"} or name.endswith("After")
    moments = {True: now - timedelta(days=7), False: now}
    scalars: dict[str, object] = {
        "ID": world.site_id,
        "String": "probe",
        "Int": 1,
        "Float": 1.0,
        "Boolean": False,
        "DateTime": moments[start].isoformat(),
        "JSON": {},
    }
    return scalars[type_.name]


def _required(field: GraphQLInputField | GraphQLArgument) -> bool:
    return isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined


def _leaves(type_: GraphQLInputType, seen: frozenset[str] = frozenset()) -> Iterator[list[str]]:
    """The path of input-field names to every scalar or enum inside `type_`."""
    named = get_named_type(type_)
    if not isinstance(named, GraphQLInputObjectType):
        yield []
        return
    if named.name in seen:
        return
    for name, field in named.fields.items():
        for rest in _leaves(field.type, seen | {named.name}):
            yield [name, *rest]


def _with(type_: GraphQLInputType, path: list[str], hostile: object, world: World) -> object:
    """A plain value of `type_` with `hostile` at `path`."""
    if not path:
        return hostile
    if isinstance(type_, GraphQLNonNull):
        return _with(type_.of_type, path, hostile, world)
    if isinstance(type_, GraphQLList):
        return [_with(type_.of_type, path, hostile, world)]
    assert isinstance(type_, GraphQLInputObjectType)
    value = _plain(type_, "", world)
    assert isinstance(value, dict)
    head, *rest = path
    value[head] = _with(type_.fields[head].type, rest, hostile, world)
    return value


@dataclass(frozen=True)
class Enum:
    name: str


def _literal(value: object) -> str:
    """`value` written inline in GraphQL (enum values as bare names)."""
    if value == HUGE:
        return HUGE_DIGITS
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_literal(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def _enums_as_names(type_: GraphQLInputType, value: object) -> object:
    """Marks enum values in a plain value so `_literal` writes them bare."""
    named = get_named_type(type_)
    if isinstance(value, list):
        inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        item = inner.of_type if isinstance(inner, GraphQLList) else inner
        return [_enums_as_names(item, v) for v in value]
    if isinstance(named, GraphQLEnumType) and isinstance(value, str) and value in named.values:
        return Enum(value)
    if isinstance(named, GraphQLInputObjectType) and isinstance(value, dict):
        return {k: _enums_as_names(named.fields[k].type, v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Case:
    label: str
    body: str


@dataclass(frozen=True)
class Slot:
    """One leaf of one argument of one root field."""

    keyword: str
    root: str
    field_name: str
    field: GraphQLField
    arg_name: str
    path: list[str]

    def label(self, hostile_name: str) -> str:
        where = ".".join([self.arg_name, *self.path])
        return f"{self.root}.{self.field_name}({where}) {hostile_name}"


def _slots() -> Iterator[Slot]:
    graphql_schema = schema._schema
    roots = [(graphql_schema.query_type, "query"), (graphql_schema.mutation_type, "mutation")]
    for root, keyword in roots:
        assert root is not None
        for field_name, field in root.fields.items():
            for arg_name, arg in field.args.items():
                for path in _leaves(arg.type):
                    yield Slot(keyword, root.name, field_name, field, arg_name, path)


def _cases(world: World) -> Iterator[Case]:
    for slot in _slots():
        for hostile_name, hostile in HOSTILE.items():
            yield from _both_ways(slot, slot.label(hostile_name), hostile, world)


def _both_ways(slot: Slot, label: str, hostile: object, world: World) -> Iterator[Case]:
    """The hostile value inline, then as the variable `$v`; other arguments inline."""
    field, arg = slot.field, slot.field.args[slot.arg_name]
    selection = " { __typename }" if _is_object(field.type) else ""
    value = _with(arg.type, slot.path, hostile, world)
    others = {
        name: _enums_as_names(other.type, _plain(other.type, name, world))
        for name, other in field.args.items()
        if name != slot.arg_name and _required(other)
    }
    inline = {**others, slot.arg_name: _enums_as_names(arg.type, value)}
    args = ", ".join(f"{name}: {_literal(v)}" for name, v in inline.items())
    query = f"{slot.keyword} {{ {slot.field_name}({args}){selection} }}"
    yield Case(f"{label}, inline", json.dumps({"query": query}))
    args = ", ".join([*(f"{n}: {_literal(v)}" for n, v in others.items()), f"{slot.arg_name}: $v"])
    query = f"{slot.keyword}($v: {arg.type}) {{ {slot.field_name}({args}){selection} }}"
    body = json.dumps({"query": query, "variables": {"v": value}})
    yield Case(f"{label}, variable", body.replace(f'"{HUGE}"', HUGE_DIGITS))


def _is_object(type_: Any) -> bool:
    return isinstance(get_named_type(type_), GraphQLObjectType)


def _problem(case: Case, response: httpx.Response) -> str | None:
    where = f"{case.label}: HTTP {response.status_code}"
    if response.status_code >= 500:
        return f"{where} {response.text[:200]}"
    errors = response.json().get("errors") or []
    codes = [(error.get("extensions") or {}).get("code") for error in errors]
    if not errors or codes[0] != "BAD_REQUEST" or len(set(codes)) != 1:
        return f"{where}, refused with {codes} {[e.get('message', '')[:80] for e in errors]}"
    return None


async def test_every_argument_refuses_hostile_values_at_the_door(world: World) -> None:
    cases = list(_cases(world))
    headers = {"Authorization": f"Bearer {world.token}", "Content-Type": "application/json"}
    problems = []
    for case in cases:
        response = await world.client.post("/graphql", content=case.body, headers=headers)
        if (problem := _problem(case, response)) is not None:
            problems.append(problem)
    assert len(cases) > 500  # every root field with arguments, every leaf, three values, two ways
    assert problems == [], f"{len(problems)} of {len(cases)}:\n" + "\n".join(problems)


async def test_a_huge_integer_anywhere_in_the_body_is_a_bad_request(world: World) -> None:
    body = '{"query": "{ apiVersion }", "extensions": {"x": ' + HUGE_DIGITS + "}}"
    response = await world.client.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


# --- HTTP routes ---------------------------------------------------------------------------


HOSTILE_PARAMS = {
    "encoded lone surrogate": "%ED%A0%80",
    "not UTF-8": "%FF%FE",
    "NUL": "a%00b",
    "huge integer": HUGE_DIGITS,
    "beyond 64 bits": "1" + "0" * 30,
    "beyond a float": "1" + "0" * 400,
    "negative beyond 64 bits": "-1" + "0" * 30,
    "long": LONG,
}


# A plain value for each query parameter a route reads, so that a hostile value in one of
# them gets as far as it can; a route reading a parameter not listed here fails the test.
PLAIN_PARAMS = {
    "key": "slk_plain",
    "expires": "4102444800",
    "signature": "0" * 64,
    "url": "/shop.html",
    "kind": "click",
    "device": "desktop",
    "width": "1280",
    "from": "2026-01-01",
    "to": "2026-01-02",
    "query": "{ apiVersion }",
}


def _read_params(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Records the name of every query parameter a route reads, however it reads it."""
    names: set[str] = set()
    for method in ("__getitem__", "__contains__", "get", "getlist"):
        original = getattr(QueryParams, method)

        def spy(self: QueryParams, key: Any, *args: Any, _original: Any = original) -> Any:
            names.add(key)
            return _original(self, key, *args)

        monkeypatch.setattr(QueryParams, method, spy)
    return names


def _routes(app: Starlette) -> Iterator[tuple[str, str, list[str]]]:
    """(method, path template, path parameter names) of every HTTP route."""
    for route in app.routes:
        assert isinstance(route, Route), route
        for method in sorted(route.methods or {"GET"}):
            yield method, route.path, re.findall(r"{(\w+)}", route.path)


def _url(template: str, path: dict[str, str], query: dict[str, str]) -> str:
    url = re.sub(r"{(\w+)}", lambda m: path[m.group(1)], template)
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


async def test_no_route_answers_hostile_parameters_with_a_5xx(
    world: World, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = {"Authorization": f"Bearer {world.token}"}
    problems, seen = [], 0
    for method, template, path_names in _routes(app):
        plain_path = dict.fromkeys(path_names, world.site_id)
        read = _read_params(monkeypatch)
        await world.client.request(
            method, _url(template, plain_path, PLAIN_PARAMS), headers=headers
        )
        monkeypatch.undo()
        assert read <= set(PLAIN_PARAMS), f"give {read - set(PLAIN_PARAMS)} a plain value"
        plain = {name: PLAIN_PARAMS[name] for name in sorted(read)}
        for hostile_name, hostile in HOSTILE_PARAMS.items():
            urls = [_url(template, plain_path, {**plain, name: hostile}) for name in plain]
            urls += [_url(template, {**plain_path, name: hostile}, plain) for name in path_names]
            for url in urls:
                seen += 1
                response = await world.client.request(method, url, headers=headers)
                if response.status_code >= 500:
                    status = response.status_code
                    problems.append(f"{method} {url[:120]} ({hostile_name}): {status}")
    assert seen > 50
    assert problems == [], "\n".join(problems)


# --- outages and bugs ------------------------------------------------------------------------

SITES = "{ sites { id } }"
LOG_IN = 'mutation { logIn(email: "owner@example.com", password: "not the password") { token } }'


async def test_a_mongodb_outage_answers_service_unavailable(
    settings: Settings, own_mongodb: Service
) -> None:
    settings = settings.model_copy(
        update={"MONGODB_URL": own_mongodb.url, "SIGHTLINE_GRAPHQL_QUERY_TIMEOUT_S": 2.0}
    )
    async with serve(settings) as client:
        token = await sign_up(client, "owner@example.com")
        own_mongodb.stop()
        # Finding the caller needs MongoDB: the operation cannot start.
        before = await client.post(
            "/graphql", json={"query": SITES}, headers={"Authorization": f"Bearer {token}"}
        )
        # Logging in reaches MongoDB from the resolver, during the operation.
        during = await gql(client, LOG_IN)
    assert before.status_code == 503
    assert before.headers["retry-after"] == "5"
    assert before.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert during["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert during["errors"][0]["message"] == "Storage is unavailable; retry later."


@pytest_asyncio.fixture
async def production_probe(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    probe = build_schema(
        Limits(introspection=False),
        query=ProbeQuery,
        mutation=None,
        extra_rules={f"Query.{name}": ANYONE for name in ("root", "boom", "refused", "miscounted")},
    )
    production = settings.model_copy(update={"SIGHTLINE_ENV": "production"})
    app = make_app(production, schema=probe)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


@pytest.mark.parametrize("field", ["boom", "miscounted"])
async def test_a_masked_error_still_carries_code_internal(
    production_probe: httpx.AsyncClient, field: str
) -> None:
    body = await gql(production_probe, f"{{ {field} }}")
    assert body["errors"][0]["message"] == "Unexpected error."
    assert body["errors"][0]["extensions"] == {"code": "INTERNAL"}


async def test_request_errors_carry_code_bad_request(client: httpx.AsyncClient) -> None:
    for query in ["{ apiVersio }", "{ apiVersion", "query($x: Int!) { apiVersion }"]:
        body = await gql(client, query)
        assert body["errors"][0].get("extensions", {}).get("code") == "BAD_REQUEST", (query, body)


def test_the_readme_lists_every_code(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    codes = {answer.code for answer in ANSWERS.values()} | {INTERNAL.code}
    missing = {code for code in codes if f"`{code}`" not in readme}
    assert missing == set()
