import httpx
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core import export_links
from core.config import Settings
from core.replay_links import replay_path
from core.signing import signed_query
from scripts.local_services import Service
from tests.accounts_helpers import PASSWORD, SIGN_UP, data
from tests.app_helpers import make_app
from tests.graphql_client import gql
from tests.ingest_helpers import SHOP_ORIGIN, batch_body, post_batch, shop_events
from tests.world_fixtures import new_site


async def test_healthz_reports_both_services_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "services": {"mongodb": "up", "redis": "up"}}


async def _healthz(settings: Settings, stop: Service) -> httpx.Response:
    app = make_app(settings)
    async with LifespanManager(app):
        stop.stop()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/healthz")


async def test_healthz_names_a_stopped_redis(settings: Settings, own_redis: Service) -> None:
    settings = settings.model_copy(update={"REDIS_URL": own_redis.url})
    response = await _healthz(settings, own_redis)
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["redis"]
    assert body["services"] == {"mongodb": "up", "redis": "down"}


async def test_healthz_names_a_stopped_mongodb(settings: Settings, own_mongodb: Service) -> None:
    settings = settings.model_copy(update={"MONGODB_URL": own_mongodb.url})
    response = await _healthz(settings, own_mongodb)
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["mongodb"]
    assert body["services"] == {"mongodb": "down", "redis": "up"}


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123-def"})
    assert echoed.headers["x-request-id"] == "abc-123-def"
    unsafe = await client.get("/healthz", headers={"X-Request-ID": "bad id; x"})
    assert len(unsafe.headers["x-request-id"]) == 32


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}
LOCKED_DOWN_CSP = "default-src 'none'; frame-ancestors 'none'"


def _assert_security_headers(name: str, response: httpx.Response) -> None:
    for header, value in SECURITY_HEADERS.items():
        assert response.headers.get(header) == value, (name, header, response.headers)
    assert response.headers.get("content-security-policy") == LOCKED_DOWN_CSP, name
    assert "cache-control" in response.headers, name
    assert "set-cookie" not in response.headers, name  # bearer headers only, never cookies


async def _answers_of_every_kind(
    client: httpx.AsyncClient, settings: Settings
) -> list[tuple[str, int, httpx.Response]]:
    """(what, expected status, response) for each kind of answer the API gives."""
    site = await new_site(client, "headers@example.com")
    key = site.tracking_key
    preflight = {"Origin": SHOP_ORIGIN, "Access-Control-Request-Method": "POST"}
    auth = {"Authorization": f"Bearer {site.token}"}
    ingested = await post_batch(client, batch_body(key, shop_events()[:30]))
    replay = data(
        await gql(
            client,
            "query($s: ID!) { sessions(siteId: $s) { nodes { replayUrl } } }",
            {"s": site.id},
            token=site.token,
        )
    )["sessions"]["nodes"][0]["replayUrl"].removeprefix("http://sightline.test")
    no_export = signed_query(settings.secret_key, export_links.PURPOSE, "no-such-export", 60)
    snippet = await client.get("/sightline.js")
    return [
        ("healthz", 200, await client.get("/healthz")),
        ("graphql", 200, await client.post("/graphql", json={"query": "{ apiVersion }"})),
        ("graphql error", 200, await client.post("/graphql", json={"query": "{ viewer { id } }"})),
        (
            "graphql bad json",
            400,
            await client.post(
                "/graphql", content=b"{", headers={"Content-Type": "application/json"}
            ),
        ),
        ("ingest", 200, ingested),
        ("ingest refused", 400, await post_batch(client, b"[]")),
        (
            "ingest origin",
            403,
            await post_batch(
                client, batch_body(key, shop_events()[:2]), origin="https://x.example"
            ),
        ),
        ("ingest preflight", 204, await client.options(f"/ingest?key={key}", headers=preflight)),
        ("replay", 200, await client.get(replay)),
        ("replay forged", 403, await client.get(replay[:-4] + "0000")),
        ("export missing", 404, await client.get(f"/exports/no-such-export?{no_export}")),
        ("export forged", 403, await client.get("/exports/x?expires=1&signature=0")),
        (
            "heatmap png",
            200,
            await client.get(f"/heatmaps/{site.id}.png?url=/shop.html", headers=auth),
        ),
        (
            "heatmap bad parameter",
            400,
            await client.get(f"/heatmaps/{site.id}.png", headers=auth),
        ),
        ("heatmap anonymous", 401, await client.get(f"/heatmaps/{site.id}.png")),
        ("snippet", 200, snippet),
        (
            "snippet revalidated",
            304,
            await client.get("/sightline.js", headers={"If-None-Match": snippet.headers["etag"]}),
        ),
        ("rrweb", 200, await client.get("/static/vendor/rrweb-2.2.2.min.js")),
        ("rrweb css", 200, await client.get("/static/vendor/rrweb-2.2.2.min.css")),
        ("unknown path", 404, await client.get("/nothing-here")),
        ("wrong method", 405, await client.delete("/healthz")),
    ]


async def test_every_kind_of_response_carries_security_headers(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    answers = await _answers_of_every_kind(client, settings)
    for name, status, response in answers:
        assert response.status_code == status, (name, response.text)
        _assert_security_headers(name, response)


async def test_graphql_responses_are_never_cached(client: httpx.AsyncClient) -> None:
    signed_up = await client.post(
        "/graphql",
        json={
            "query": SIGN_UP,
            "variables": {"email": "c@example.com", "password": PASSWORD, "name": "C"},
        },
    )
    assert signed_up.json()["data"]["signUp"]["token"]
    assert signed_up.headers["cache-control"] == "no-store"


async def test_a_crash_answers_500_with_security_headers(app: Starlette) -> None:
    async def crash(request: Request) -> Response:
        raise RuntimeError("a bug")

    app.router.routes.append(Route("/crash", crash))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as crashing:
        crashed = await crashing.get("/crash")
    assert crashed.status_code == 500
    assert crashed.json()["error"] == "internal_error"
    assert crashed.json()["code"] == "INTERNAL"
    _assert_security_headers("500", crashed)


async def test_a_storage_outage_answers_503_with_security_headers(
    settings: Settings, own_mongodb: Service
) -> None:
    settings = settings.model_copy(update={"MONGODB_URL": own_mongodb.url})
    app = make_app(settings)
    async with LifespanManager(app):
        own_mongodb.stop()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            unavailable = await client.get(replay_path(settings.secret_key, "any-session"))
    assert unavailable.status_code == 503
    assert unavailable.json()["code"] == "SERVICE_UNAVAILABLE"
    assert unavailable.headers["retry-after"] == "5"
    _assert_security_headers("503", unavailable)


async def test_graphiql_page_keeps_its_scripts_but_not_framing(client: httpx.AsyncClient) -> None:
    graphiql = await client.get("/graphql", headers={"Accept": "text/html"})
    assert graphiql.status_code == 200
    assert "content-security-policy" not in graphiql.headers
    assert graphiql.headers["x-frame-options"] == "DENY"
    assert graphiql.headers["x-content-type-options"] == "nosniff"


async def test_snippet_is_served_to_every_origin_without_credentials(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/sightline.js", "/static/vendor/rrweb-2.2.2.min.js"):
        response = await client.get(path, headers={"Origin": "https://any.example"})
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers
        assert response.headers["cross-origin-resource-policy"] == "cross-origin"
