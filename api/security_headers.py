"""Security headers on every API response.

Responses are JSON, images or scripts meant to be fetched, never pages to frame
or sniff, so they forbid framing and MIME sniffing and send no referrer. JSON
and images also get a Content-Security-Policy that allows nothing; HTML
(GraphiQL, in development only) is left without one, since it loads its own
scripts. Responses are not cached (they can hold tokens or personal data) unless
the route says otherwise. A header a route already set is kept.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALWAYS = {
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"cross-origin-opener-policy": b"same-origin",
}
LOCKED_DOWN_CSP = b"default-src 'none'; frame-ancestors 'none'"
DEFAULT_CACHE_CONTROL = b"no-store"


def _headers(existing: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _ in existing}
    content_type = next((v for k, v in existing if k.lower() == b"content-type"), b"")
    added = [(k, v) for k, v in ALWAYS.items() if k not in present]
    if b"content-security-policy" not in present and not content_type.startswith(b"text/html"):
        added.append((b"content-security-policy", LOCKED_DOWN_CSP))
    if b"cache-control" not in present:
        added.append((b"cache-control", DEFAULT_CACHE_CONTROL))
    return [*existing, *added]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _headers(list(message.get("headers", [])))
            await send(message)

        await self.app(scope, receive, send_with_headers)
