import asyncio
import re
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from redis.asyncio import Redis

from core.config import Settings
from service.login_throttle import LoginThrottle
from storage import accounts
from storage.database import Database
from tests.accounts_helpers import (
    LOG_IN,
    PASSWORD,
    SIGN_UP,
    data,
    error_code,
    sign_up,
)
from tests.conftest import serve
from tests.graphql_client import gql
from tests.workers_helpers import run_worker_burst
from tests.world_fixtures import Account, MakeApiKey, Site

VIEWER = "{ viewer { id email name createdAt sites { id } } }"


def _strip_request_details(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "errors": [
            {"message": e["message"], "code": e["extensions"]["code"]} for e in body["errors"]
        ]
    }


async def test_sign_up_log_in_viewer_log_out(client: httpx.AsyncClient) -> None:
    await sign_up(client, "  Ada@Example.COM ", name="Ada Lovelace")
    logged_in = data(await gql(client, LOG_IN, {"email": "ada@example.com", "password": PASSWORD}))
    token = logged_in["logIn"]["token"]
    assert token.startswith("sl_sess_")

    viewer = data(await gql(client, VIEWER, token=token))["viewer"]
    assert viewer["email"] == "ada@example.com"
    assert viewer["name"] == "Ada Lovelace"
    assert viewer["sites"] == []

    assert data(await gql(client, "mutation { logOut }", token=token)) == {"logOut": True}
    after = await gql(client, VIEWER, token=token)
    assert error_code(after) == "UNAUTHENTICATED"
    assert after["errors"][0]["message"] == "The credentials are invalid or have expired."


async def test_viewer_needs_credentials(client: httpx.AsyncClient) -> None:
    body = await gql(client, VIEWER)
    assert error_code(body) == "UNAUTHENTICATED"
    garbage = await gql(client, VIEWER, token="sl_sess_made-up")
    assert error_code(garbage) == "UNAUTHENTICATED"


async def test_email_is_unique_whatever_its_case(client: httpx.AsyncClient) -> None:
    await sign_up(client, "grace@example.com")
    body = await gql(
        client, SIGN_UP, {"email": " GRACE@example.com", "password": PASSWORD, "name": "G"}
    )
    assert body["errors"][0]["message"] == "An account with this email address already exists."


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("a@example.com", "short", "The password must have at least 10 characters."),
        (
            "longer.name@example.com",
            "LONGER.NAME@example.com",
            "The password must not be the email address.",
        ),
        ("not-an-email", "a long enough password", "Enter a valid email address."),
    ],
)
async def test_sign_up_explains_what_is_wrong(
    client: httpx.AsyncClient, email: str, password: str, message: str
) -> None:
    body = await gql(client, SIGN_UP, {"email": email, "password": password, "name": "X"})
    assert body["errors"][0]["message"] == message
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_wrong_password_and_unknown_email_answer_identically(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client, "known@example.com")
    wrong = await gql(client, LOG_IN, {"email": "known@example.com", "password": "wrong password!"})
    unknown = await gql(
        client, LOG_IN, {"email": "nobody@example.com", "password": "wrong password!"}
    )
    assert _strip_request_details(wrong) == _strip_request_details(unknown)
    assert wrong["errors"][0]["message"] == "Incorrect email or password."
    assert wrong.get("data") == unknown.get("data")


async def test_password_is_stored_only_as_argon2id(
    production_client: httpx.AsyncClient, db: Database
) -> None:
    await sign_up(production_client, "hash@example.com")
    stored = await accounts.find_by_email(db, "hash@example.com")
    assert stored is not None
    assert stored["password_hash"].startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in str(stored)


async def test_outdated_hash_is_upgraded_at_login(
    production_client: httpx.AsyncClient, db: Database
) -> None:
    client = production_client
    await sign_up(client, "old@example.com")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    account = await accounts.find_by_email(db, "old@example.com")
    assert account is not None
    await accounts.set_password_hash(db, account["_id"], weak)

    data(await gql(client, LOG_IN, {"email": "old@example.com", "password": PASSWORD}))

    upgraded = await accounts.find_by_email(db, "old@example.com")
    assert upgraded is not None
    assert upgraded["password_hash"] != weak
    assert upgraded["password_hash"].startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    again = await gql(client, LOG_IN, {"email": "old@example.com", "password": PASSWORD})
    assert "errors" not in again


async def test_update_account_changes_name_and_email(client: httpx.AsyncClient) -> None:
    token = await sign_up(client, "first@example.com")
    await sign_up(client, "taken@example.com")
    mutation = (
        "mutation($n: String, $e: String) { updateAccount(name: $n, email: $e) { name email } }"
    )
    updated = data(
        await gql(client, mutation, {"n": " New Name ", "e": "Second@Example.com"}, token=token)
    )
    assert updated["updateAccount"] == {"name": "New Name", "email": "second@example.com"}
    clash = await gql(client, mutation, {"e": "taken@example.com"}, token=token)
    assert clash["errors"][0]["message"] == "An account with this email address already exists."


async def test_change_password_signs_out_every_other_session(client: httpx.AsyncClient) -> None:
    first = await sign_up(client, "change@example.com")
    second = data(await gql(client, LOG_IN, {"email": "change@example.com", "password": PASSWORD}))[
        "logIn"
    ]["token"]
    mutation = (
        "mutation($c: String!, $n: String!) "
        "{ changePassword(currentPassword: $c, newPassword: $n) }"
    )

    wrong = await gql(
        client, mutation, {"c": "not the password", "n": "a brand new password"}, token=first
    )
    assert error_code(wrong) == "UNAUTHENTICATED"
    weak = await gql(client, mutation, {"c": PASSWORD, "n": "short"}, token=first)
    assert weak["errors"][0]["message"] == "The password must have at least 10 characters."

    changed = await gql(client, mutation, {"c": PASSWORD, "n": "a brand new password"}, token=first)
    assert data(changed) == {"changePassword": True}
    assert "errors" not in await gql(client, VIEWER, token=first)
    assert error_code(await gql(client, VIEWER, token=second)) == "UNAUTHENTICATED"
    old = await gql(client, LOG_IN, {"email": "change@example.com", "password": PASSWORD})
    assert error_code(old) == "UNAUTHENTICATED"
    new = await gql(
        client, LOG_IN, {"email": "change@example.com", "password": "a brand new password"}
    )
    assert "errors" not in new


async def test_login_throttling_kicks_in(settings: Settings, db: Database, redis: Redis) -> None:
    throttled = settings.model_copy(
        update={"SIGHTLINE_LOGIN_MAX_FAILURES": 3, "SIGHTLINE_LOGIN_WINDOW_S": 600}
    )
    async with serve(throttled) as client:
        await sign_up(client, "victim@example.com")
        wrong = {"email": "victim@example.com", "password": "guess guess guess"}
        for _ in range(3):
            assert error_code(await gql(client, LOG_IN, wrong)) == "UNAUTHENTICATED"
        blocked = await gql(client, LOG_IN, {"email": "victim@example.com", "password": PASSWORD})
        assert error_code(blocked) == "TOO_MANY_ATTEMPTS"
        message = blocked["errors"][0]["message"]
        match = re.fullmatch(r"Too many attempts, retry after (\d+) s\.", message)
        assert match, message
        assert 1 <= int(match[1]) <= 600
        other = await gql(
            client, LOG_IN, {"email": "someone.else@example.com", "password": "x" * 12}
        )
        assert error_code(other) == "UNAUTHENTICATED"


async def test_login_throttling_lifts_when_the_window_passes(
    settings: Settings, db: Database, redis: Redis
) -> None:
    throttled = settings.model_copy(
        update={"SIGHTLINE_LOGIN_MAX_FAILURES": 3, "SIGHTLINE_LOGIN_WINDOW_S": 2}
    )
    async with serve(throttled) as client:
        await sign_up(client, "victim@example.com")
        # Failures recorded straight into Redis: three slow argon2 checks on a loaded
        # machine could outlast the 2 s window before the block is ever seen.
        failures = LoginThrottle(redis, throttled)
        for _ in range(3):
            await failures.admit("victim@example.com", "127.0.0.1")  # never succeeded
        right = {"email": "victim@example.com", "password": PASSWORD}
        assert error_code(await gql(client, LOG_IN, right)) == "TOO_MANY_ATTEMPTS"

        await asyncio.sleep(2.1)
        lifted = await gql(client, LOG_IN, right)
        assert "errors" not in lifted


async def test_login_throttling_per_client_address(
    settings: Settings, db: Database, redis: Redis
) -> None:
    throttled = settings.model_copy(update={"SIGHTLINE_LOGIN_MAX_FAILURES_PER_ADDRESS": 4})
    async with serve(throttled) as client:
        for n in range(4):
            body = await gql(
                client, LOG_IN, {"email": f"user{n}@example.com", "password": "x" * 12}
            )
            assert error_code(body) == "UNAUTHENTICATED"
        blocked = await gql(client, LOG_IN, {"email": "fresh@example.com", "password": "x" * 12})
        assert error_code(blocked) == "TOO_MANY_ATTEMPTS"


async def test_delete_account_ends_access_and_records_the_job(
    client: httpx.AsyncClient,
    account: Account,
    site: Site,
    api_key: MakeApiKey,
    db: Database,
    settings: Settings,
) -> None:
    key = await api_key(["SITES_READ"])
    mutation = "mutation($p: String!) { deleteAccount(password: $p) { id kind status removed } }"

    assert (
        error_code(await gql(client, mutation, {"p": "wrong password!"}, token=site.token))
        == "UNAUTHENTICATED"
    )
    request = data(await gql(client, mutation, {"p": PASSWORD}, token=site.token))["deleteAccount"]
    assert request["kind"] == "delete_account"
    assert request["status"] == "pending"

    assert error_code(await gql(client, VIEWER, token=site.token)) == "UNAUTHENTICATED"
    assert error_code(await gql(client, "{ sites { id } }", token=key.secret)) == "UNAUTHENTICATED"
    assert await db["accounts"].count_documents({}) == 0
    assert await db["auth_tokens"].count_documents({}) == 0
    assert await db["api_keys"].count_documents({}) == 0
    stored = await db["privacy_requests"].find_one({"_id": request["id"]})
    assert stored is not None
    assert account.email not in str(stored)

    await run_worker_burst(settings)

    finished = await db["privacy_requests"].find_one({"_id": request["id"]})
    assert finished is not None
    assert finished["status"] == "done"
    assert finished["removed"]["sites"] == 1
    assert finished["parameters"] == {}
    assert await db["sites"].count_documents({}) == 0
