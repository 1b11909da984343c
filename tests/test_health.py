import httpx
from asgi_lifespan import LifespanManager

from api.app import create_app
from core.config import Settings
from scripts.local_services import Service


async def test_healthz_reports_both_services_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "services": {"mongodb": "up", "redis": "up"}}


async def _healthz(settings: Settings, stop: Service) -> httpx.Response:
    app = create_app(settings)
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


async def test_api_responses_carry_security_headers(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/healthz"),
        await client.post("/graphql", json={"query": "{ apiVersion }"}),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert (
            response.headers["content-security-policy"]
            == "default-src 'none'; frame-ancestors 'none'"
        )
    graphiql = await client.get("/graphql", headers={"Accept": "text/html"})
    assert "content-security-policy" not in graphiql.headers
    assert graphiql.headers["x-frame-options"] == "DENY"
    snippet = await client.get("/sightline.js")
    assert snippet.headers["access-control-allow-origin"] == "*"
    assert snippet.headers["x-content-type-options"] == "nosniff"
