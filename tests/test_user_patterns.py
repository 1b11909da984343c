"""Regular expressions from users: linear-time matching, and clear refusals everywhere.

The schema is walked for every argument that can carry a `REGEX` match (an input type with an
enum field offering `REGEX`, at any depth), so a new operation taking a pattern is covered
without being listed here.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
    get_named_type,
)

from core.patterns import MAX_PATTERN_LENGTH, MAX_REPEAT, PatternError, compile_pattern
from graph.schema import schema
from storage.database import Database
from storage.events import event_document
from storage.ids import session_key
from tests.accounts_helpers import data, error_code
from tests.events_helpers import store_derived
from tests.graphql_client import gql
from tests.world_fixtures import Site

REDOS = "(a+)+$"
BAD_PATTERNS = {
    "a{99999999999}": f"is above {MAX_REPEAT}",
    "a{1,2000}": f"is above {MAX_REPEAT}",
    r"(a)\1": "backreferences are not supported",
    "(?=a)b": "lookahead and lookbehind are not supported",
    "(?<!a)b": "lookahead and lookbehind are not supported",
    ".{1000}.{1000}": "too complex",
    "(": "missing )",
    "a" * (MAX_PATTERN_LENGTH + 1): "too long",
}


def test_nested_quantifiers_are_matched_without_backtracking() -> None:
    pattern = compile_pattern(REDOS)
    assert not pattern.search("a" * 100_000 + "!")
    assert pattern.search("a" * 100_000)


@pytest.mark.parametrize(("source", "reason"), BAD_PATTERNS.items(), ids=range(len(BAD_PATTERNS)))
def test_unusable_patterns_are_refused_with_the_reason(source: str, reason: str) -> None:
    with pytest.raises(PatternError) as refused:
        compile_pattern(source)
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    ("source", "text", "found"),
    [
        (r"^/products/\d+$", "/products/42", True),
        (r"^/products/\d+$", "/products/x", False),
        ("(?i)checkout", "/CheckOut", True),
        ("(?P<id>[0-9]+)", "/p/7", True),
        ("[a{99999999999}]", "{", True),  # braces in a class are characters, not a count
        (r"\{99999999999\}", "x{99999999999}", True),
        ("é+", "/café", True),
    ],
)
def test_usual_patterns_keep_their_meaning(source: str, text: str, found: bool) -> None:
    assert compile_pattern(source).search(text) is found


# Through the API.

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
RESULT = """
query($s: ID!, $d: FunnelDefinitionInput!, $r: TimeRange!) {
  funnelResult(siteId: $s, definition: $d, range: $r) { totalUnits steps { entered } }
}"""
RANGE = {"start": "2026-03-01T00:00:00Z", "end": "2026-03-09T00:00:00Z"}


async def _page_views(db: Database, site_id: str, paths: list[str]) -> None:
    base_ms = int(T0.timestamp() * 1000)
    documents = []
    for n, path in enumerate(paths):
        session_id = f"redos-{n}"
        key = session_key(site_id, session_id)
        await db["sessions"].insert_one(
            {"_id": key, "site_id": site_id, "session_id": session_id, "visitor_id": f"v-{n}",
             "started_at": T0, "last_activity_at": T0 + timedelta(seconds=1)}
        )  # fmt: skip
        base = {"site_id": site_id, "session_id": session_id, "visitor_id": f"v-{n}"}
        fields = {"kind": "page_view", "url": f"https://shop.example{path}", "path": path}
        for step, at in enumerate((base_ms, base_ms + 1000)):
            documents.append(event_document({"_id": f"{key}:{step}", **base}, fields, at))
    await store_derived(db, documents)


async def test_a_catastrophic_pattern_is_evaluated_and_correct(
    client: httpx.AsyncClient, site: Site, db: Database
) -> None:
    await _page_views(db, site.id, ["/" + "a" * 28 + "!", "/" + "a" * 28])
    step = {"type": "PAGE_VIEW", "urlMatch": {"field": "PATH", "op": "REGEX", "value": REDOS}}
    definition = {"steps": [{"type": "PAGE_VIEW"}, step]}
    body = await gql(client, RESULT, {"s": site.id, "d": definition, "r": RANGE}, token=site.token)
    result = data(body)["funnelResult"]
    assert result["totalUnits"] == 2
    assert [s["entered"] for s in result["steps"]] == [2, 1]


def _unwrap(type_: Any) -> Any:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


def _takes_regex(type_: GraphQLInputObjectType) -> str | None:
    """The name of the field of `type_` that can select a `REGEX` match, if any."""
    for name, field in type_.fields.items():
        inner = _unwrap(field.type)
        if isinstance(inner, GraphQLEnumType) and "REGEX" in inner.values:
            return name
    return None


def _paths_to_regex(type_: GraphQLInputType, seen: frozenset[str]) -> Iterator[tuple[str, ...]]:
    """Field paths inside `type_` that end at an input type taking a REGEX match."""
    inner = _unwrap(type_)
    if not isinstance(inner, GraphQLInputObjectType) or inner.name in seen:
        return
    if _takes_regex(inner) is not None:
        yield ()
    for name, field in inner.fields.items():
        for rest in _paths_to_regex(field.type, seen | {inner.name}):
            yield (name, *rest)


def _regex_arguments() -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(operation type, field, argument, path) for every place a pattern can be sent."""
    found = []
    graphql_schema = schema._schema
    for root in (graphql_schema.query_type, graphql_schema.mutation_type):
        assert isinstance(root, GraphQLObjectType)
        for field_name, field in root.fields.items():
            for arg_name, arg in field.args.items():
                for path in _paths_to_regex(arg.type, frozenset()):
                    found.append((root.name, field_name, arg_name, path))
    return found


class _Values:
    """Values for any input type: required fields filled, lists of two, `path` leading to
    a REGEX match of `pattern` in the last item of each list on the way."""

    def __init__(self, ids: dict[str, str], pattern: str) -> None:
        self.ids, self.pattern = ids, pattern
        self.moments = (T0 + timedelta(days=n) for n in count())

    def argument(self, name: str, arg: GraphQLArgument, path: tuple[str, ...] | None) -> Any:
        named = get_named_type(arg.type)
        if named.name == "ID":
            return self.ids[name]
        return self.value(arg.type, path)

    def value(self, type_: Any, path: tuple[str, ...] | None) -> Any:
        if isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        if isinstance(type_, GraphQLList):
            return [self.value(type_.of_type, None), self.value(type_.of_type, path)]
        if isinstance(type_, GraphQLInputObjectType):
            return self.object(type_, path)
        if isinstance(type_, GraphQLEnumType):
            return next(iter(type_.values))
        assert isinstance(type_, GraphQLScalarType)
        if type_.name == "DateTime":
            return next(self.moments).isoformat()
        return {"String": "name", "Float": 1000.0, "Int": 1, "Boolean": True}[type_.name]

    def object(self, type_: GraphQLInputObjectType, path: tuple[str, ...] | None) -> Any:
        if type_.name == "TimeRange":  # a valid one, so the pattern is what gets refused
            start = next(self.moments)
            return {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()}
        value = {
            name: self.value(field.type, None)
            for name, field in type_.fields.items()
            if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
        }
        if path == ():
            op = _takes_regex(type_)
            value[op] = "REGEX"
            value.update({n: self.pattern for n, f in type_.fields.items() if n != op
                          and get_named_type(f.type).name == "String"})  # fmt: skip
        elif path:
            value[path[0]] = self.value(type_.fields[path[0]].type, path[1:])
        return value


def _operation(kind: str, field: str, target: str, path: tuple[str, ...], values: _Values) -> Any:
    definition = schema._schema.get_type(kind)
    assert isinstance(definition, GraphQLObjectType)
    args = definition.fields[field].args
    chosen = {
        name: arg
        for name, arg in args.items()
        if name == target or isinstance(arg.type, GraphQLNonNull)
    }
    variables = {n: values.argument(n, a, path if n == target else None) for n, a in chosen.items()}
    declared = ", ".join(f"${n}: {a.type}" for n, a in chosen.items())
    passed = ", ".join(f"{n}: ${n}" for n in chosen)
    verb = "mutation" if kind == "Mutation" else "query"
    return f"{verb}({declared}) {{ {field}({passed}) {{ __typename }} }}", variables


CREATE_FUNNEL = """
mutation($s: ID!) {
  createFunnel(siteId: $s, name: "Saved",
               definition: {steps: [{type: PAGE_VIEW}, {type: CLICK}]}) { id }
}"""


async def test_every_argument_taking_a_pattern_refuses_a_bad_one_with_bad_request(
    client: httpx.AsyncClient,
    site: Site,
) -> None:
    funnel = data(await gql(client, CREATE_FUNNEL, {"s": site.id}, token=site.token))
    ids = {"siteId": site.id, "id": funnel["createFunnel"]["id"]}
    places = _regex_arguments()
    assert {(kind, field) for kind, field, _, _ in places} >= {
        ("Query", "funnelResult"),
        ("Mutation", "createFunnel"),
    }
    for kind, field, argument, path in places:
        for pattern, reason in BAD_PATTERNS.items():
            query, variables = _operation(kind, field, argument, path, _Values(ids, pattern))
            body = await gql(client, query, variables, token=site.token)
            where = (kind, field, argument, path, pattern[:20])
            assert error_code(body) == "BAD_REQUEST", (where, body)
            message = body["errors"][0]["message"]
            assert "regex" in message, (where, message)
            assert reason in message, (where, message)
