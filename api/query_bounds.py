"""Every route's path and query parameters are bounded text before any route reads them.

Starlette decodes percent-escapes that are not UTF-8 into U+FFFD without a
word, so `?url=%ED%A0%80` (an encoded lone surrogate) would quietly become
another value; here it is refused instead, as is any name or value longer than
`core.inputs.MAX_TEXT_CHARS`. The answer is the error boundary's 400.
"""

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response
from core.errors import BadRequest
from core.inputs import check_text


def check_request_text(scope: Scope) -> None:
    check_text(scope.get("path", ""), "The path")
    query = scope.get("query_string", b"").decode("latin-1")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise BadRequest("A query parameter is not valid UTF-8.") from None
    for name, value in pairs:
        check_text(name, "A query parameter's name")
        check_text(value, f"The query parameter `{name}`")


class QueryBoundsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                check_request_text(scope)
            except BadRequest as exc:
                await error_response(exc)(scope, receive, send)
                return
        await self.app(scope, receive, send)
