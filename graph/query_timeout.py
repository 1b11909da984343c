"""One time budget for all the MongoDB work of a GraphQL operation.

The operation's resolvers run inside `storage.database.time_budget(budget)`: the
driver's client-side operation timeout, held in a context variable that the tasks
the executor starts inherit. Every command then carries the time left as
`maxTimeMS`, and once it is spent the next command fails before it is sent,
so one heavy request cannot keep a shard busy. A resolver that runs out of
time answers `QUERY_TIMEOUT` (the error boundary translates the driver's
timeouts, `storage.errors.TRANSLATIONS`) instead of the masked "Unexpected error.".
"""

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from storage.database import time_budget


class QueryTimeout(SchemaExtension):
    """Runs execution under the budget in `SIGHTLINE_GRAPHQL_QUERY_TIMEOUT_S`."""

    def on_execute(self) -> Iterator[None]:
        settings = self.execution_context.context.resources.settings
        budget: float = settings.SIGHTLINE_GRAPHQL_QUERY_TIMEOUT_S
        with time_budget(budget):
            yield
