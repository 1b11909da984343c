"""The GraphQL endpoint on Starlette, with Sightline's context.

Requests the endpoint cannot serve (a body too large, not JSON, not one
operation, the wrong method or content type, a string that is not valid
Unicode or too long, a number beyond 64 bits) are answered with a
GraphQL-shaped JSON error and a 4xx status, never with a crash; storage that
cannot be reached while finding the caller answers 503 `SERVICE_UNAVAILABLE`.
"""

import json

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema

from core.errors import (
    BadRequest,
    PayloadTooLarge,
    SightlineError,
    answer_for,
    error_for_status,
    translated,
)
from core.inputs import MAX_TEXT_CHARS, check_text, parse_int
from graph.context import Context
from service.identity import authenticate
from service.resources import Resources
from storage.database import time_budget

_NOT_ONE_OPERATION = (
    "The request body must be one JSON object with a `query` "
    "(and optional `variables` and `operationName`)."
)
_BATCH = "Batched operations are not supported: send one operation per request."
# Strawberry's reasons, reworded to say what to do instead.
_MESSAGES = {
    "Unsupported content type": "Send the operation as JSON with `Content-Type: application/json`.",
    "Batching is not enabled": _BATCH,
    "Unable to parse request body as JSON": "The request body is not valid JSON.",
    "queries are not allowed when using GET": "Send operations with POST; GET runs none.",
    "mutations are not allowed when using GET": "Send mutations with POST; GET runs none.",
}


class BodyTooLargeError(Exception):
    pass


class GraphQLView(GraphQL[Context, None]):
    def __init__(
        self,
        schema: BaseSchema,
        *,
        graphiql: bool,
        max_body_bytes: int = 2**20,
        max_variable_values: int = 2000,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            allow_queries_via_get=False,
            subscription_protocols=(),
            multipart_uploads_enabled=False,
        )
        self.max_body_bytes = max_body_bytes
        self.max_variable_values = max_variable_values

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        response = await self._answer(scope, receive)
        await response(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive) -> Response:
        limit = self.max_body_bytes
        try:
            if _declared_length(scope) > limit:
                raise BodyTooLargeError
            response: Response = await self.run(Request(scope, self._bounded(receive)))
        except BodyTooLargeError:
            too_large = f"The request body is larger than the limit of {limit} bytes."
            return _error(PayloadTooLarge(too_large))
        except HTTPException as exc:
            return _error(error_for_status(exc.status_code, _MESSAGES.get(exc.reason, exc.reason)))
        except Exception as exc:
            # Finding the caller (`get_context`) when MongoDB is out of reach, say.
            known = translated(exc)
            if known is None:
                raise
            return _error(known)
        return response

    def _bounded(self, receive: Receive) -> Receive:
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise BodyTooLargeError
            return message

        return bounded_receive

    def decode_json(self, data: str | bytes) -> object:
        try:
            value = json.loads(data, parse_int=_bounded_int)
        except UnicodeDecodeError:
            raise HTTPException(400, "The request body is not valid UTF-8.") from None
        except RecursionError:
            raise HTTPException(400, "The request body nests JSON too deeply.") from None
        except BadRequest as exc:
            raise HTTPException(400, exc.message) from None
        if isinstance(value, list):
            raise HTTPException(400, _BATCH)
        if not isinstance(value, dict):
            raise HTTPException(400, _NOT_ONE_OPERATION)
        if _more_values_than(value.get("variables"), self.max_variable_values):
            # Strawberry converts each input value at ~20 µs: a 1 MiB list would hold the
            # event loop for seconds. Inline values are bounded by the token limit already.
            limit = self.max_variable_values
            raise HTTPException(400, f"The variables hold more than {limit} values.")
        try:
            _check_strings(value)
        except BadRequest as exc:
            raise HTTPException(400, exc.message) from None
        return value

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        assert isinstance(request, Request)
        assert isinstance(response, Response)
        resources: Resources = request.app.state.resources
        # Finding the caller is two lookups by unique key; its own budget, apart from the query's.
        with time_budget(resources.settings.SIGHTLINE_AUTHENTICATION_TIMEOUT_S):
            auth = await authenticate(resources.db, request.headers.get("authorization"))
        return Context(
            resources=resources,
            request=request,
            response=response,
            principal=auth.principal,
            auth_failure=auth.failure,
        )


def _bounded_int(text: str) -> int:
    return parse_int(text, "A number in the request body")


def _check_strings(body: dict[str, object]) -> None:
    """Every string and key must be valid Unicode; those in `variables` also short enough.

    The query's own literals are checked once it is parsed (`graph.input_bounds`).
    """
    for key, value in body.items():
        max_chars = MAX_TEXT_CHARS if key == "variables" else None
        where = "A value in `variables`" if key == "variables" else "The request body"
        pending = [value]
        while pending:
            item = pending.pop()
            if isinstance(item, str):
                check_text(item, where, max_chars=max_chars)
            elif isinstance(item, dict):
                pending.extend(item.keys())
                pending.extend(item.values())
            elif isinstance(item, list):
                pending.extend(item)
        check_text(key, "The request body")


def _more_values_than(variables: object, limit: int) -> bool:
    pending, seen = [variables], 0
    while pending:
        value = pending.pop()
        seen += 1
        if seen > limit:
            return True
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def _error(error: SightlineError) -> Response:
    body = {"errors": [{"message": error.message, "extensions": error.extensions}]}
    return Response(
        orjson.dumps(body),
        status_code=answer_for(error).status,
        headers=error.headers,
        media_type="application/json",
    )
