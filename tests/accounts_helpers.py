"""Signing up and in through the GraphQL API, as a frontend would."""

from typing import Any

import httpx

from tests.graphql_client import gql

PASSWORD = "correct horse battery"

SIGN_UP = """
mutation($email: String!, $password: String!, $name: String!) {
  signUp(email: $email, password: $password, name: $name) { token expiresAt account { id email } }
}"""

LOG_IN = """
mutation($email: String!, $password: String!) {
  logIn(email: $email, password: $password) { token account { id email } }
}"""

CREATE_SITE = """
mutation($name: String!, $domains: [String!]!) {
  createSite(name: $name, domains: $domains) { id trackingKey }
}"""

CREATE_KEY = """
mutation($name: String!, $scopes: [ApiScope!]!, $siteIds: [ID!]) {
  createApiKey(name: $name, scopes: $scopes, siteIds: $siteIds) {
    secret apiKey { id name hint scopes siteIds createdAt lastUsedAt }
  }
}"""


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


def error_code(body: dict[str, Any]) -> str:
    assert body.get("errors"), f"expected an error, got {body}"
    code: str = body["errors"][0]["extensions"]["code"]
    return code


async def sign_up(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, name: str = "Ada"
) -> str:
    body = await gql(client, SIGN_UP, {"email": email, "password": password, "name": name})
    token: str = data(body)["signUp"]["token"]
    return token


async def create_site(
    client: httpx.AsyncClient, token: str, name: str = "Shop", domains: list[str] | None = None
) -> dict[str, Any]:
    body = await gql(
        client, CREATE_SITE, {"name": name, "domains": domains or ["shop.example"]}, token=token
    )
    site: dict[str, Any] = data(body)["createSite"]
    return site


async def create_key(
    client: httpx.AsyncClient,
    token: str,
    scopes: list[str],
    site_ids: list[str] | None = None,
    name: str = "integration",
) -> dict[str, Any]:
    variables = {"name": name, "scopes": scopes, "siteIds": site_ids}
    created: dict[str, Any] = data(await gql(client, CREATE_KEY, variables, token=token))[
        "createApiKey"
    ]
    return created
