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

from graph.errors import UserError

CACHE_SIZE = 512


@dataclass(frozen=True)
class Limits:
    max_depth: int = 12
    max_tokens: int = 2000
    max_aliases: int = 15
    introspection: bool = True


def is_unexpected(error: GraphQLError) -> bool:
    """True for errors raised by our code that the client must not see.

    A variable that does not coerce to its type (a string for an `Int`, a
    malformed `DateTime`) is the client's error, like a `UserError`.
    """
    original = error.original_error
    return original is not None and not isinstance(
        original, UserError | StrawberryInputCoercionError | GraphQLError
    )


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
        partial(MaskErrors, should_mask_error=is_unexpected),
    ]
