"""The GraphQL endpoint on Starlette, with Sightline's context."""

import pymongo
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema

from graph.auth import authenticate
from graph.context import Context, Resources

# Finding the caller is two lookups by unique key; its own budget, apart from the query's.
AUTHENTICATION_TIMEOUT_S = 5.0


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, schema: BaseSchema, *, graphiql: bool) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            allow_queries_via_get=False,
            subscription_protocols=(),
            multipart_uploads_enabled=False,
        )

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        assert isinstance(request, Request)
        assert isinstance(response, Response)
        resources: Resources = request.app.state.resources
        with pymongo.timeout(AUTHENTICATION_TIMEOUT_S):
            auth = await authenticate(resources.db, request.headers.get("authorization"))
        return Context(
            resources=resources,
            request=request,
            response=response,
            principal=auth.principal,
            auth_failure=auth.failure,
        )
