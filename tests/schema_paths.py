"""Every way down the served schema to a field, and the query that walks it.

The access tests use these to reach each `Link` field, and each field with its own access
rule, through every path from the roots, without listing the paths by hand: a field or a
path added later is covered by the same tests.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
    get_named_type,
    is_non_null_type,
)

from graph.access import RULES
from graph.schema import schema
from service.access import Audience, Rule
from service.scopes import Scope

GRAPH = schema._schema
ROOTS = ("Query", "Mutation")


def object_type(name: str) -> GraphQLObjectType:
    found = GRAPH.type_map[name]
    assert isinstance(found, GraphQLObjectType), name
    return found


def field_of(name: str) -> GraphQLField:
    type_name, field_name = name.split(".")
    return object_type(type_name).fields[field_name]


def all_fields() -> Iterator[str]:
    """`Type.field` for every field of every output object type (introspection aside)."""
    for type_name, graphql_type in GRAPH.type_map.items():
        if isinstance(graphql_type, GraphQLObjectType) and not type_name.startswith("__"):
            yield from (f"{type_name}.{field}" for field in graphql_type.fields)


def link_fields() -> list[str]:
    """Fields whose type is the `Link` scalar: each one hands out a URL of this API."""
    return sorted(name for name in all_fields() if _named(field_of(name)) == "Link")


def ruled_fields_below_the_roots() -> list[str]:
    return sorted(name for name in RULES if name.split(".")[0] not in ROOTS)


def _named(field: GraphQLField) -> str:
    return get_named_type(field.type).name


def paths_to(target: str) -> list[tuple[str, ...]]:
    """Every path from a root to `target` that passes through no type twice."""
    found: list[tuple[str, ...]] = []

    def walk(type_name: str, trail: tuple[str, ...], seen: frozenset[str]) -> None:
        for field_name, field in object_type(type_name).fields.items():
            step = f"{type_name}.{field_name}"
            if step == target:
                found.append((*trail, step))
            named = get_named_type(field.type)
            if isinstance(named, GraphQLObjectType) and named.name not in seen:
                walk(named.name, (*trail, step), seen | {named.name})

    for root in ROOTS:
        walk(root, (), frozenset({root}))
    return sorted(found)


def rules_along(path: tuple[str, ...]) -> list[Rule]:
    return [RULES[step] for step in path if step in RULES]


def scopes_along(path: tuple[str, ...]) -> set[Scope]:
    return {rule.scope for rule in rules_along(path) if rule.scope is not None}


def reachable_by_api_keys(path: tuple[str, ...]) -> bool:
    return all(rule.audience is not Audience.PERSON for rule in rules_along(path))


@dataclass(frozen=True)
class Operation:
    query: str
    variables: dict[str, Any]
    names: tuple[str, ...]  # the response keys along the path

    def leaves(self, data: dict[str, Any] | None) -> list[Any]:
        """The values at the end of the path, through every list; a null on the way counts."""
        values: list[Any] = [data]
        for name in self.names:
            values = [
                item.get(name) if item is not None else None
                for value in values
                for item in (value if isinstance(value, list) else [value])
            ]
        return [v for value in values for v in (value if isinstance(value, list) else [value])]


def operation(path: tuple[str, ...], values: dict[str, Any]) -> Operation:
    """The query (or mutation) that selects `path`, with its required arguments from `values`.

    `values` is keyed by `Type.field.argument`, or by the argument's name alone.
    """
    declared: list[str] = []
    variables: dict[str, Any] = {}
    calls: list[str] = []
    for step in path:
        arguments = []
        for argument_name, argument in field_of(step).args.items():
            if not _required(argument):
                continue
            variable = f"v{len(variables)}"
            key = f"{step}.{argument_name}"
            assert key in values or argument_name in values, f"give a value for {key}"
            variables[variable] = values.get(key, values.get(argument_name))
            declared.append(f"${variable}: {argument.type}")
            arguments.append(f"{argument_name}: ${variable}")
        field_name = step.split(".")[1]
        calls.append(f"{field_name}({', '.join(arguments)})" if arguments else field_name)
    leaf = field_of(path[-1])
    selection = "" if isinstance(get_named_type(leaf.type), GraphQLScalarType) else "__typename"
    for call in reversed(calls):
        selection = f"{call} {{ {selection} }}" if selection else call
    keyword = "mutation" if path[0].startswith("Mutation.") else "query"
    signature = f"({', '.join(declared)})" if declared else ""
    names = tuple(step.split(".")[1] for step in path)
    return Operation(f"{keyword}{signature} {{ {selection} }}", variables, names)


def _required(argument: GraphQLArgument) -> bool:
    return is_non_null_type(argument.type) and argument.default_value is Undefined
