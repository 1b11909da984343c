"""Every field that takes a time range refuses a backwards or overlong one, before it reads.

`graph.ranges.TimeRange` checks its bounds when Strawberry builds it from the argument, so
no resolver has to remember to. The test finds every root field with a `TimeRange`
argument in the served schema (a field added later is covered) and sends it a backwards
range, with placeholder values for its other required arguments: the range is refused
before anything else is looked at. Ranges below the roots are listed, and checked by
their own API tests (`Funnel.result`: tests/test_funnels_api.py).
"""

from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLType,
    get_named_type,
    is_non_null_type,
)

from tests.accounts_helpers import sign_up
from tests.graphql_client import gql
from tests.schema_paths import ROOTS, all_fields, field_of

BACKWARDS = {"start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}
TOO_LONG = {"start": "2020-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}


def _ranged(field: str) -> list[str]:
    return [
        name
        for name, argument in field_of(field).args.items()
        if get_named_type(argument.type).name == "TimeRange"
    ]


RANGED = [f for f in all_fields() if _ranged(f)]
AT_ROOTS = [f for f in RANGED if f.split(".")[0] in ROOTS]


def _placeholder(kind: GraphQLType) -> Any:
    named = get_named_type(kind)
    if isinstance(named, GraphQLEnumType):
        return next(iter(named.values))
    if isinstance(named, GraphQLInputObjectType):
        return {
            name: _placeholder(f.type)
            for name, f in named.fields.items()
            if isinstance(f.type, GraphQLNonNull)
        }
    return {"Int": 1, "Float": 1.0, "Boolean": False}.get(named.name, "x")


def _call(field: str, window: dict[str, str]) -> tuple[str, dict[str, Any]]:
    kind, name = field.split(".")
    declared, passed, variables = [], [], {}
    for argument_name, argument in field_of(field).args.items():
        ranged = argument_name in _ranged(field)
        if not ranged and not is_non_null_type(argument.type):
            continue
        variables[argument_name] = window if ranged else _placeholder(argument.type)
        declared.append(f"${argument_name}: {argument.type}")
        passed.append(f"{argument_name}: ${argument_name}")
    keyword = "mutation" if kind == "Mutation" else "query"
    returned = get_named_type(field_of(field).type)
    selection = " { __typename }" if isinstance(returned, GraphQLObjectType) else ""
    query = f"{keyword}({', '.join(declared)}) {{ {name}({', '.join(passed)}){selection} }}"
    return query, variables


def test_the_walk_finds_the_ranged_fields() -> None:
    assert len(AT_ROOTS) >= 4
    assert sorted(set(RANGED) - set(AT_ROOTS)) == ["Funnel.result"]


@pytest.mark.parametrize("field", AT_ROOTS)
@pytest.mark.parametrize(
    ("window", "message"),
    [(BACKWARDS, "The range must end after it starts."), (TOO_LONG, "at most 400 days")],
)
async def test_a_bad_range_is_refused_by_every_field_that_takes_one(
    client: httpx.AsyncClient, field: str, window: dict[str, str], message: str
) -> None:
    token = await sign_up(client, "ranges@example.com")
    query, variables = _call(field, window)
    body = await gql(client, query, variables, token=token)
    errors = body.get("errors") or []
    assert errors, (field, body)
    assert message in errors[0]["message"], (field, errors)
    assert errors[0]["extensions"]["code"] == "BAD_REQUEST", (field, errors)
