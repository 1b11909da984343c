"""Request limits and error handling shared by every schema the API serves."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from graph.cost import DEFAULT_MAX_COST, QueryCost
from graph.input_bounds import InputBounds
from graph.query_timeout import QueryTimeout

CACHE_SIZE = 512


@dataclass(frozen=True)
class Limits:
    max_depth: int = 12
    max_tokens: int = 2000
    max_aliases: int = 15
    max_cost: int = DEFAULT_MAX_COST
    introspection: bool = True


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
        InputBounds,  # after ValidationCache, whose errors it replaces
        partial(QueryCost, max_cost=limits.max_cost),  # after both: costs valid queries only
        QueryTimeout,
    ]
