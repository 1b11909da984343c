"""One time budget for all the MongoDB work of a GraphQL operation.

The operation's resolvers run inside `pymongo.timeout(budget)`: PyMongo's
client-side operation timeout, held in a context variable that the tasks the
executor starts inherit. Every command then carries the time left as
`maxTimeMS`, and once it is spent the next command fails before it is sent,
so one heavy request cannot keep a shard busy. A resolver that runs out of
time answers `QUERY_TIMEOUT` instead of the masked "Unexpected error.".
"""

from collections.abc import Iterator

import pymongo
from graphql import GraphQLError
from pymongo.errors import ExecutionTimeout, NetworkTimeout
from strawberry.extensions import SchemaExtension

from graph.errors import QueryTimeoutError

DRIVER_TIMEOUTS = (ExecutionTimeout, NetworkTimeout)


def is_query_timeout(error: GraphQLError) -> bool:
    """The server stopped a command at its `maxTimeMS`, or the budget ran out first.

    Not `PyMongoError.timeout` as a whole: that also holds for a server that
    cannot be reached, which is not the query's fault.
    """
    return isinstance(error.original_error, (*DRIVER_TIMEOUTS, QueryTimeoutError))


def _as_timeout(error: GraphQLError) -> GraphQLError:
    if not isinstance(error.original_error, DRIVER_TIMEOUTS):
        return error
    return GraphQLError(
        QueryTimeoutError().message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=QueryTimeoutError(),
    )


class QueryTimeout(SchemaExtension):
    """Runs execution under the budget in `SIGHTLINE_GRAPHQL_QUERY_TIMEOUT_S`."""

    def on_execute(self) -> Iterator[None]:
        settings = self.execution_context.context.resources.settings
        budget: float = settings.SIGHTLINE_GRAPHQL_QUERY_TIMEOUT_S
        with pymongo.timeout(budget):
            yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [_as_timeout(error) for error in result.errors]
