"""A small demo shop (tests/e2e/site/) that embeds the Sightline snippet, and a page to see
what was recorded.

`python -m scripts.demo_site`, with `make run` going in another terminal, signs up (or logs
in) a demo account through GraphQL, creates the site "Demo shop" for http://127.0.0.1:8080,
serves the shop there, and serves /_sightline/: the recorded sessions with their replays and
the click heatmap of each page, read from the API with the account's token. The end-to-end
test (tests/e2e/) serves the same shop with `DemoSite`.

Pages may contain `{{SIGHTLINE_API}}` and `{{SIGHTLINE_KEY}}`, filled in when served.
"""

import argparse
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "tests" / "e2e" / "site"
DASHBOARD = Path(__file__).resolve().parent / "demo_dashboard.html"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
SESSIONS = """query($s: ID!) { sessions(siteId: $s, first: 20) { nodes {
  id startedAt pages { path } clickCount rageClickCount errorCount browser replayUrl } } }"""


class Reply(NamedTuple):
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = {}


Routes = Callable[[str], Reply | None]


class DemoSite:
    """The pages of `directory`, served on `host:port` (0: a free port) from a thread;
    `routes` may answer some paths first."""

    def __init__(
        self,
        api_url: str,
        key: str = "",
        *,
        directory: Path = SITE,
        host: str = "127.0.0.1",
        port: int = 0,
        routes: Routes | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.key = key
        self.directory = directory.resolve()
        self.routes = routes
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def domain(self) -> str:
        """What the site's `domains` must list for this origin."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.domain}"

    def start(self) -> "DemoSite":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def fill_in(self, html: bytes) -> bytes:
        text = html.decode().replace("{{SIGHTLINE_API}}", self.api_url)
        return text.replace("{{SIGHTLINE_KEY}}", self.key).encode()

    def reply(self, path: str) -> Reply:
        found = self.routes(path) if self.routes else None
        return found or self.file(path) or Reply(404, b"Not found", "text/plain; charset=utf-8")

    def file(self, path: str) -> Reply | None:
        name = urllib.parse.urlsplit(path).path.lstrip("/") or "index.html"
        file = (self.directory / name).resolve()
        if not file.is_relative_to(self.directory) or not file.is_file():
            return None
        body = file.read_bytes()
        if file.suffix == ".html":
            body = self.fill_in(body)
        return Reply(200, body, CONTENT_TYPES.get(file.suffix, "application/octet-stream"))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                reply = site.reply(self.path)
                self.send_response(reply.status)
                headers = {"Content-Type": reply.content_type, "Cache-Control": "no-store"}
                for name, value in {**headers, **reply.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _request(url: str, token: str | None = None, body: Any = None) -> tuple[bytes, str]:
    """GET (or POST `body` as JSON) to the API: the body as sent, and its content encoding."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 (the API)
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        content: bytes = response.read()
        return content, response.headers.get("Content-Encoding", "")


def graphql(
    api_url: str, query: str, variables: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    content, _ = _request(f"{api_url}/graphql", token, {"query": query, "variables": variables})
    answer: dict[str, Any] = json.loads(content)
    return answer


class Dashboard:
    """/_sightline/: the page, and what it reads from the API with the account's token."""

    def __init__(self, site: DemoSite, site_id: str, token: str) -> None:
        self.site, self.site_id, self.token = site, site_id, token

    def __call__(self, path: str) -> Reply | None:
        parts = urllib.parse.urlsplit(path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        api = self.site.api_url
        try:
            if parts.path in {"/_sightline", "/_sightline/"}:
                return Reply(200, self.site.fill_in(DASHBOARD.read_bytes()), CONTENT_TYPES[".html"])
            if parts.path == "/_sightline/sessions":
                answer = graphql(api, SESSIONS, {"s": self.site_id}, self.token)
                nodes = answer["data"]["sessions"]["nodes"]
                return Reply(200, json.dumps(nodes).encode(), "application/json")
            if parts.path == "/_sightline/replay" and query.get("url", "").startswith(
                f"{api}/replay/"
            ):
                events, encoding = _request(query["url"])  # a signed link: no token needed
                return Reply(200, events, "application/json", {"Content-Encoding": encoding})
            if parts.path == "/_sightline/heatmap.png":
                page = urllib.parse.quote(self.site.url + query.get("path", "/"), safe="")
                url = f"{api}/heatmaps/{self.site_id}.png?kind=click&width=1280&url={page}"
                return Reply(200, _request(url, self.token)[0], "image/png")
        except (OSError, KeyError, ValueError) as exc:
            return Reply(502, f"The API did not answer: {exc}".encode(), "text/plain")
        return None


def _token(api_url: str, email: str, password: str) -> str:
    sign_up = """mutation($e: String!, $p: String!) {
      signUp(email: $e, password: $p, name: "Demo") { token } }"""
    log_in = "mutation($e: String!, $p: String!) { logIn(email: $e, password: $p) { token } }"
    answer = graphql(api_url, sign_up, {"e": email, "p": password})
    if answer.get("errors"):
        answer = graphql(api_url, log_in, {"e": email, "p": password})
    if answer.get("errors"):
        raise SystemExit(f"Cannot sign in as {email}: {answer['errors'][0]['message']}")
    data = answer["data"]
    token: str = (data.get("signUp") or data["logIn"])["token"]
    return token


def _site(api_url: str, token: str, domain: str) -> dict[str, Any]:
    """The account's site for `domain`, created the first time."""
    sites = graphql(api_url, "{ sites { id name domains trackingKey } }", {}, token)
    for site in sites["data"]["sites"]:
        if domain in site["domains"]:
            found: dict[str, Any] = site
            return found
    create = """mutation($d: [String!]!) {
      createSite(name: "Demo shop", domains: $d) { id name domains trackingKey } }"""
    created: dict[str, Any] = graphql(api_url, create, {"d": [domain]}, token)["data"]["createSite"]
    return created


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", default="http://127.0.0.1:8000", help="the Sightline API")
    parser.add_argument("--port", type=int, default=8080, help="where the shop is served")
    parser.add_argument("--email", default="demo@example.com")
    parser.add_argument("--password", default="demo password 123")
    options = parser.parse_args()
    api_url = options.api.rstrip("/")
    site = DemoSite(api_url, port=options.port)
    try:
        token = _token(api_url, options.email, options.password)
    except OSError as exc:
        raise SystemExit(
            f"No Sightline API at {api_url} ({exc}); start it with `make run`."
        ) from None
    recorded = _site(api_url, token, site.domain)
    site.key = recorded["trackingKey"]
    site.routes = Dashboard(site, recorded["id"], token)
    site.start()
    print(
        f"Demo shop:  {site.url}/   (recorded by {api_url}, site {recorded['id']})\n"
        f"Recordings: {site.url}/_sightline/   (sessions, replays, click heatmaps)\n"
        f"GraphQL:    {api_url}/graphql   with  Authorization: Bearer {token}\n"
        "Ctrl-C stops the shop.",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        site.stop()


if __name__ == "__main__":
    main()
