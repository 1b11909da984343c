"""Request limits and error handling shared by every schema the API serves."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from graphql import GraphQLError
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from graph.cost import DEFAULT_MAX_COST, QueryCost
from graph.errors import UserError
from graph.query_timeout import QueryTimeout

CACHE_SIZE = 512


@dataclass(frozen=True)
class Limits:
    max_depth: int = 12
    max_tokens: int = 2000
    max_aliases: int = 15
    max_cost: int = DEFAULT_MAX_COST
    introspection: bool = True


def is_unexpected(error: GraphQLError) -> bool:
    """True for errors raised by our code that the client must not see.

    Errors about the request itself come before execution and have no path: a
    variable of the wrong type (graphql-core's `GraphQLError`) or one a scalar
    cannot parse (a malformed `DateTime`). They are for the client. Those during
    execution (a resolver's value the schema cannot serialize) are bugs.
    """
    original = error.original_error
    about_the_request = (
        isinstance(original, GraphQLError | StrawberryInputCoercionError) and error.path is None
    )
    return original is not None and not isinstance(original, UserError) and not about_the_request


ExtensionFactory = Callable[[], SchemaExtension]


def extensions(limits: Limits) -> list[ExtensionFactory]:
    """Factories, so that each request gets fresh extension instances."""
    introspection: list[ExtensionFactory] = [] if limits.introspection else [DisableIntrospection]
    return [
        *introspection,
        partial(MaxTokensLimiter, max_token_count=limits.max_tokens),
        partial(QueryDepthLimiter, max_depth=limits.max_depth),
        partial(MaxAliasesLimiter, max_alias_count=limits.max_aliases),
        partial(ParserCache, maxsize=CACHE_SIZE),
        partial(ValidationCache, maxsize=CACHE_SIZE),
        partial(QueryCost, max_cost=limits.max_cost),  # after ValidationCache: costs valid queries
        QueryTimeout,
        partial(MaskErrors, should_mask_error=is_unexpected),
    ]
