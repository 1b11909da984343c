"""Long lists of integers answered without completing them one item at a time.

graphql-core completes a list item by item (a path entry, a type check and a
serialisation per item: 65-140 ms for the 24-29k integers of a full heatmap's `cells`,
three to five times the storage read). An `IntArray` holds integers already known to
be valid GraphQL `Int`s (32-bit), so a `[Int!]` field that returns one is answered as
is; anything else, and any other list, takes the usual path.
"""

from collections.abc import Iterable
from typing import Any

from graphql import GraphQLInt, GraphQLNonNull, GraphQLOutputType, GraphQLResolveInfo
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

INT_MIN, INT_MAX = -(2**31), 2**31 - 1


class IntArray(list[int]):
    """Integers checked once, as a whole, to be GraphQL `Int`s (see `int_array`)."""


def int_array(values: Iterable[int]) -> list[int]:
    """`values` as an `IntArray` when every one is a 32-bit integer (not a bool); else as
    a plain list, which GraphQL checks item by item and rejects as it always did."""
    items = list(values)
    in_range = min(items, default=0) >= INT_MIN and max(items, default=0) <= INT_MAX
    valid = all(type(v) is int for v in items) and in_range
    return IntArray(items) if valid else items


def _is_int(item_type: GraphQLOutputType) -> bool:
    return isinstance(item_type, GraphQLNonNull) and item_type.of_type is GraphQLInt


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution, with `IntArray`s of `[Int!]` fields answered whole."""

    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        items: Iterable[Any],
        position_context: Any,
    ) -> AwaitableOrValue[list[Any]]:
        if isinstance(items, IntArray) and _is_int(item_type):
            return list(items)
        return super().complete_iterable_value(
            item_type, field_details_list, info, path, items, position_context
        )
