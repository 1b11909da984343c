from datetime import UTC, datetime, timedelta

import httpx
from redis.asyncio import Redis

from core.config import Settings
from core.credentials import is_well_formed_api_key
from storage.database import Database
from tests.accounts_helpers import create_key, create_site, data, error_code, sign_up
from tests.graphql_client import gql
from tests.world_fixtures import Site

SITES = "{ sites { id name } }"
RENAME = 'mutation($id: ID!) { updateSite(id: $id, changes: {name: "Renamed"}) { name } }'


async def test_key_is_shown_once_and_stored_only_as_a_hash(
    client: httpx.AsyncClient, db: Database
) -> None:
    token = await sign_up(client, "keys@example.com")
    created = await create_key(client, token, ["SITES_READ"], name="CRM sync")
    secret = created["secret"]
    assert is_well_formed_api_key(secret)
    assert created["apiKey"]["hint"] == "sl_live_…" + secret[-4:]

    listed = data(await gql(client, "{ apiKeys { id name hint scopes siteIds } }", token=token))
    assert listed["apiKeys"] == [
        {
            "id": created["apiKey"]["id"],
            "name": "CRM sync",
            "hint": created["apiKey"]["hint"],
            "scopes": ["SITES_READ"],
            "siteIds": None,
        }
    ]
    assert secret not in str(listed)
    stored = await db["api_keys"].find_one({})
    assert stored is not None
    assert secret not in str(stored)


async def test_key_works_within_its_scopes_and_not_outside(
    client: httpx.AsyncClient, site: Site
) -> None:
    reader = (await create_key(client, site.token, ["SITES_READ"]))["secret"]

    assert data(await gql(client, SITES, token=reader))["sites"] == [
        {"id": site.id, "name": "Shop"}
    ]
    denied = await gql(client, RENAME, {"id": site.id}, token=reader)
    assert error_code(denied) == "FORBIDDEN"
    assert denied["errors"][0]["message"] == "This API key lacks the scope 'sites:write'."

    writer = (await create_key(client, site.token, ["SITES_READ", "SITES_WRITE"]))["secret"]
    assert data(await gql(client, RENAME, {"id": site.id}, token=writer)) == {
        "updateSite": {"name": "Renamed"}
    }


async def test_key_limited_to_sites_sees_nothing_of_the_others(client: httpx.AsyncClient) -> None:
    token = await sign_up(client, "limited@example.com")
    mine = await create_site(client, token, name="Mine")
    other = await create_site(client, token, name="Other")
    key = (await create_key(client, token, ["SITES_READ", "SITES_WRITE"], [mine["id"]]))["secret"]

    assert data(await gql(client, SITES, token=key))["sites"] == [
        {"id": mine["id"], "name": "Mine"}
    ]
    hidden = await gql(
        client, "query($id: ID!) { site(id: $id) { name } }", {"id": other["id"]}, token=key
    )
    assert error_code(hidden) == "NOT_FOUND"
    assert error_code(await gql(client, RENAME, {"id": other["id"]}, token=key)) == "NOT_FOUND"
    create = await gql(
        client, 'mutation { createSite(name: "x", domains: ["x.example"]) { id } }', token=key
    )
    assert error_code(create) == "FORBIDDEN"


async def test_keys_cannot_manage_accounts_or_keys(client: httpx.AsyncClient) -> None:
    token = await sign_up(client, "nomanage@example.com")
    every_scope = [
        "SITES_READ", "SITES_WRITE", "RECORDINGS_READ", "RECORDINGS_WRITE",
        "ANALYTICS_READ", "ANALYTICS_WRITE", "PRIVACY",
    ]  # fmt: skip
    key = (await create_key(client, token, every_scope))["secret"]
    for operation in [
        "{ viewer { id } }",
        "{ apiKeys { id } }",
        'mutation { createApiKey(name: "k", scopes: [SITES_READ]) { secret } }',
        'mutation { updateAccount(name: "x") { id } }',
        "mutation { logOut }",
    ]:
        body = await gql(client, operation, token=key)
        assert error_code(body) == "FORBIDDEN", operation
        assert (
            body["errors"][0]["message"]
            == "API keys cannot manage accounts or keys; sign in instead."
        )


async def test_revoked_key_fails_on_the_next_request(client: httpx.AsyncClient) -> None:
    token = await sign_up(client, "revoke@example.com")
    created = await create_key(client, token, ["SITES_READ"])
    assert "errors" not in await gql(client, SITES, token=created["secret"])
    revoke = "mutation($id: ID!) { revokeApiKey(id: $id) }"
    assert data(await gql(client, revoke, {"id": created["apiKey"]["id"]}, token=token)) == {
        "revokeApiKey": True
    }
    assert error_code(await gql(client, SITES, token=created["secret"])) == "UNAUTHENTICATED"
    again = await gql(client, revoke, {"id": created["apiKey"]["id"]}, token=token)
    assert error_code(again) == "NOT_FOUND"


async def test_a_key_with_a_wrong_checksum_is_refused(client: httpx.AsyncClient) -> None:
    token = await sign_up(client, "checksum@example.com")
    secret = (await create_key(client, token, ["SITES_READ"]))["secret"]
    tampered = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert not is_well_formed_api_key(tampered)
    assert error_code(await gql(client, SITES, token=tampered)) == "UNAUTHENTICATED"


async def test_last_used_is_written_at_most_hourly(client: httpx.AsyncClient, db: Database) -> None:
    token = await sign_up(client, "lastused@example.com")
    created = await create_key(client, token, ["SITES_READ"])
    assert created["apiKey"]["lastUsedAt"] is None
    await gql(client, SITES, token=created["secret"])
    first = (await db["api_keys"].find_one({}) or {})["last_used_at"]
    assert first is not None
    await gql(client, SITES, token=created["secret"])
    assert (await db["api_keys"].find_one({}) or {})["last_used_at"] == first

    earlier = datetime.now(UTC) - timedelta(hours=2)
    await db["api_keys"].update_one({}, {"$set": {"last_used_at": earlier}})
    await gql(client, SITES, token=created["secret"])
    assert (await db["api_keys"].find_one({}) or {})["last_used_at"] > earlier + timedelta(hours=1)


async def test_no_secret_is_stored_in_clear(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    password = "a very secret passphrase"
    token = await sign_up(client, "secrets@example.com", password=password)
    await create_site(client, token)
    key = (await create_key(client, token, ["SITES_READ"]))["secret"]
    stored = []
    for name in await db.list_collection_names():
        stored.extend(str(doc) for doc in await db[name].find({}).to_list(None))
    everything = "\n".join(stored)
    for secret in (
        password,
        token,
        key,
        token.removeprefix("sl_sess_"),
        key.removeprefix("sl_live_"),
    ):
        assert secret not in everything
