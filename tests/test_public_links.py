"""Every absolute URL the API hands out starts with SIGHTLINE_PUBLIC_URL, whatever the request
says its host is: a caller choosing `Host: evil.example` must not get links (signed by this
deployment) that point elsewhere. Link fields are found by walking the schema
(`tests/schema_paths.py`), and routes by walking the app.
"""

import re
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from core.config import Settings
from tests.link_world import LinkWorld, link_world
from tests.schema_paths import link_fields, operation, paths_to, scopes_along

PUBLIC_URL = "https://analytics.example/sightline"
HOSTILE = {
    "Host": "evil.example",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "gopher",
    "Forwarded": "host=evil.example;proto=gopher",
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"SIGHTLINE_PUBLIC_URL": PUBLIC_URL})


async def _ask_hostile(world: LinkWorld, path: tuple[str, ...]) -> tuple[list[Any], str]:
    op = operation(path, world.values())
    key = await world.key(scopes_along(path))
    response = await world.client.post(
        "/graphql",
        json={"query": op.query, "variables": op.variables},
        headers={**HOSTILE, "Authorization": f"Bearer {key}"},
    )
    body = response.json()
    assert "errors" not in body, (path, body["errors"])
    return op.leaves(body["data"]), response.text


async def test_links_come_from_the_public_url_not_the_host_header(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert link_fields(), "the walk found no Link field"
    world = await link_world(client, settings)
    linked: set[str] = set()
    for name in link_fields():
        for path in paths_to(name):
            if not path[0].startswith("Query."):
                continue  # mutations change the world; they mint links the same way
            leaves, text = await _ask_hostile(world, path)
            assert "evil.example" not in text, path
            assert "gopher" not in text, path
            for link in [leaf for leaf in leaves if leaf is not None]:
                assert link.startswith(f"{PUBLIC_URL}/"), (path, link)
                # The proxy at PUBLIC_URL strips its prefix; the API serves the rest.
                response = await client.get(link.removeprefix(PUBLIC_URL))
                assert response.status_code == 200, (path, response.text)
                linked.add(name)
    assert linked == set(link_fields()), "some link field gave no link to check"


def _paths(app: Starlette) -> list[str]:
    paths = []
    for route in app.routes:
        assert isinstance(route, Route), route
        concrete = re.sub(r"\{[^}]+\}", "x", route.path)
        paths += [concrete, concrete + "/"]
    return paths


async def test_no_response_echoes_the_host_header(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    """Redirects included: Starlette builds them from the Host header unless told not to."""
    for path in _paths(app):
        for method in ("GET", "POST"):
            response = await client.request(method, path, headers=HOSTILE)
            echoed = [v for v in response.headers.values() if "evil.example" in v]
            assert echoed == [], (method, path, response.status_code, echoed)
            assert "evil.example" not in response.text, (method, path)
