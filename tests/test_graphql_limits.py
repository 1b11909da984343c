import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
import strawberry
from asgi_lifespan import LifespanManager
from structlog.stdlib import ProcessorFormatter

from api.app import create_app
from core.config import Settings
from graph.access import ANYONE
from graph.errors import UserError
from graph.limits import Limits
from graph.schema import build_schema
from tests.graphql_client import gql


@strawberry.type
class Node:
    name: str

    @strawberry.field
    def child(self) -> "Node":
        return Node(name=self.name + "+")


@strawberry.type
class ProbeQuery:
    @strawberry.field
    def root(self) -> Node:
        return Node(name="root")

    @strawberry.field
    def boom(self) -> str:
        raise RuntimeError("database password is hunter2")

    @strawberry.field
    def refused(self) -> str:
        raise UserError("That is not allowed.")


@pytest_asyncio.fixture
async def probe(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    schema = build_schema(
        Limits(max_depth=5, max_tokens=200, max_aliases=3),
        query=ProbeQuery,
        mutation=None,
        extra_rules={f"Query.{name}": ANYONE for name in ("root", "boom", "refused")},
    )
    app = create_app(settings, schema=schema)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


async def test_served_schema_answers(client: httpx.AsyncClient) -> None:
    body = await gql(client, "{ apiVersion }")
    assert body == {"data": {"apiVersion": "1"}}


async def test_too_deep_a_query_is_refused(probe: httpx.AsyncClient) -> None:
    ok = await gql(probe, "{ root { child { child { child { name } } } } }")
    assert "errors" not in ok
    body = await gql(probe, "{ root { child { child { child { child { child { name } } } } } } }")
    assert body["errors"][0]["message"] == "'anonymous' exceeds maximum operation depth of 5"
    assert body.get("data") is None


async def test_too_many_tokens_are_refused(probe: httpx.AsyncClient) -> None:
    query = "{ " + " ".join("root { name }" for _ in range(60)) + " }"
    body = await gql(probe, query)
    assert "more than 200 tokens" in body["errors"][0]["message"]


async def test_too_many_aliases_are_refused(probe: httpx.AsyncClient) -> None:
    query = "{ a: root { name } b: root { name } c: root { name } d: root { name } }"
    body = await gql(probe, query)
    assert body["errors"][0]["message"] == "4 aliases found. Allowed: 3"


async def test_aliases_hidden_in_fragments_are_counted(probe: httpx.AsyncClient) -> None:
    query = "fragment F on Node { a: name b: name } { root { ...F c: name d: name } }"
    body = await gql(probe, query)
    assert "aliases found" in body["errors"][0]["message"]


async def test_unexpected_errors_are_masked_and_logged(
    probe: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = await gql(probe, "{ boom }")
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "hunter2" not in str(body)
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    rendered = _rendered_by_our_handler(errors[0])
    assert "graphql.unexpected_error" in rendered
    assert "Traceback (most recent call last)" in rendered
    assert "RuntimeError: database password is hunter2" in rendered


def _rendered_by_our_handler(record: logging.LogRecord) -> str:
    ours = [h for h in logging.getLogger().handlers if isinstance(h.formatter, ProcessorFormatter)]
    return ours[0].format(record)


async def test_user_errors_reach_the_client(probe: httpx.AsyncClient) -> None:
    body = await gql(probe, "{ refused }")
    assert body["errors"][0]["message"] == "That is not allowed."


async def test_field_suggestions_are_not_offered(client: httpx.AsyncClient) -> None:
    body = await gql(client, "{ apiVersio }")
    message = body["errors"][0]["message"]
    assert "Cannot query field" in message
    assert "Did you mean" not in message


async def test_graphiql_is_served_in_development(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_graphiql_is_off_in_production(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"SIGHTLINE_ENV": "production"}))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 404 or "graphiql" not in response.text.lower()
