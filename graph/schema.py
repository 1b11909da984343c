"""The Strawberry schema and the operations it serves."""

from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext, ExecutionResult

from core.logs import get_logger
from graph.access import RULES, protect
from graph.accounts import AccountMutation, AccountQuery
from graph.api_keys import ApiKeyMutation, ApiKeyQuery
from graph.datetimes import DATETIME
from graph.error_boundary import answered, classify
from graph.error_log import loggable_message
from graph.errors import QueryTimeoutError, ServiceUnavailableError
from graph.events import EventMutation, EventQuery
from graph.funnels import FunnelMutation, FunnelQuery
from graph.heatmaps import HeatmapQueryType
from graph.int_arrays import ExecutionContext as IntArrayExecution
from graph.json_scalar import BOUNDED_JSON
from graph.limits import ExtensionFactory, Limits, extensions
from graph.links import LINK, Link
from graph.privacy import PrivacyMutation, PrivacyQuery
from graph.sessions import SessionQuery
from graph.sites import SiteMutation, SiteQuery
from service.access import Rule

log = get_logger("graph")

API_VERSION = "1"


@strawberry.type
class MetaQuery:
    @strawberry.field(description="Version of the GraphQL API, raised on breaking changes.")
    def api_version(self) -> str:
        return API_VERSION


Query = merge_types(
    "Query",
    (
        MetaQuery,
        AccountQuery,
        ApiKeyQuery,
        SiteQuery,
        SessionQuery,
        EventQuery,
        PrivacyQuery,
        FunnelQuery,
        HeatmapQueryType,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        AccountMutation,
        ApiKeyMutation,
        SiteMutation,
        EventMutation,
        PrivacyMutation,
        FunnelMutation,
    ),
)


class SightlineSchema(strawberry.Schema):
    """Logs every error once, with its trace when it is unexpected, then answers it
    through the error boundary (`graph.error_boundary`)."""

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        result = await super().execute(*args, **kwargs)
        if result.errors:
            result.errors = [answered(error) for error in result.errors]
        return result

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        operation = execution_context.operation_name if execution_context else None
        for error in errors:
            verdict = classify(error)
            if isinstance(verdict.known, QueryTimeoutError | ServiceUnavailableError):
                event = f"graphql.{verdict.known.code.lower()}"
                log.warning(event, operation=operation, path=error.path)
            elif verdict.unexpected:
                log.error(
                    "graphql.unexpected_error",
                    operation=operation,
                    path=error.path,
                    exc_info=error.original_error,
                )
            else:
                log.info("graphql.error", operation=operation, message=loggable_message(error))


def build_schema(
    limits: Limits | None = None,
    *,
    query: type = Query,
    mutation: type | None = Mutation,
    extra_extensions: list[ExtensionFactory] | None = None,
    extra_rules: dict[str, Rule] | None = None,
) -> strawberry.Schema:
    protect({"Query": query, "Mutation": mutation}, {**RULES, **(extra_rules or {})})
    config = StrawberryConfig(
        sort_schema=True, disable_field_suggestions=True, scalar_map={Link: LINK}
    )
    exts: list[Any] = [*extensions(limits or Limits()), *(extra_extensions or [])]
    return SightlineSchema(
        query=query,
        mutation=mutation,
        extensions=exts,
        config=config,
        scalar_overrides={datetime: DATETIME, JSON: BOUNDED_JSON},
        execution_context_class=IntArrayExecution,
    )


schema = build_schema()
