"""Security review checks: credentials, signed links, CORS and what reaches the logs."""

import asyncio
import io
import logging
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import strawberry
from asgi_lifespan import LifespanManager
from redis.asyncio import Redis

from api.cors import parse_origins
from core import export_links
from core.config import ConfigError, LogFormat, Settings, load_settings
from core.logs import configure_logging
from core.replay_links import replay_path
from core.signing import signed_query
from graph.schema import build_schema
from scripts.local_services import free_port
from service.access import ANYONE
from storage import api_keys
from storage.database import Database
from tests.accounts_helpers import (
    LOG_IN,
    PASSWORD,
    create_key,
    create_site,
    data,
    error_code,
    sign_up,
)
from tests.app_helpers import make_app
from tests.conftest import serve
from tests.graphql_client import gql
from tests.ingest_helpers import SHOP_DOMAIN, SHOP_ORIGIN, batch_body, post_batch, shop_events
from tests.workers_helpers import run_worker_burst
from tests.world_fixtures import Account, MakeApiKey, Site

VIEWER = "{ viewer { id } }"
FOREIGN_ORIGIN = "https://evil.example"


@pytest.fixture
def json_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Every log line of the process, as production writes it (JSON), at DEBUG level."""
    stream = io.StringIO()
    pymongo_level = logging.getLogger("pymongo").level
    logging.getLogger("pymongo").setLevel(logging.NOTSET)  # as in production: inherit the root's
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the test's client, not the server
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stderr", stream)
        configure_logging(LogFormat.JSON, "DEBUG")
    try:
        yield stream
    finally:
        configure_logging(LogFormat.CONSOLE, "INFO")
        logging.getLogger("pymongo").setLevel(pymongo_level)
        logging.getLogger("httpx").setLevel(logging.NOTSET)


async def _replay_url(client: httpx.AsyncClient, token: str, site_id: str) -> str:
    body = data(
        await gql(
            client,
            "query($s: ID!) { sessions(siteId: $s) { nodes { replayUrl } } }",
            {"s": site_id},
            token=token,
        )
    )
    url: str = body["sessions"]["nodes"][0]["replayUrl"]
    return url.removeprefix("http://sightline.test")


async def _export_url(
    client: httpx.AsyncClient, settings: Settings, token: str, site_id: str
) -> str:
    asked = data(
        await gql(
            client,
            'mutation($s: ID!) { exportVisitor(siteId: $s, visitorId: "visitor-0001") { id } }',
            {"s": site_id},
            token=token,
        )
    )["exportVisitor"]
    await run_worker_burst(settings)
    done = data(
        await gql(
            client,
            "query($id: ID!) { privacyRequest(id: $id) { status downloadUrl } }",
            {"id": asked["id"]},
            token=token,
        )
    )["privacyRequest"]
    assert done["status"] == "done"
    url: str = done["downloadUrl"]
    return url.removeprefix("http://sightline.test")


async def _every_credentialed_operation(
    client: httpx.AsyncClient, settings: Settings, secrets: list[str]
) -> None:
    """Sign up, log in (right and wrong), use a key, ingest, replay, export; note each secret."""
    wrong_password = "not the password at all"
    secrets += [PASSWORD, wrong_password]
    token = await sign_up(client, "logs@example.com")
    failed = await gql(client, LOG_IN, {"email": "logs@example.com", "password": wrong_password})
    assert error_code(failed) == "UNAUTHENTICATED"
    mistyped = await gql(client, LOG_IN, {"email": "logs@example.com", "password": [PASSWORD]})
    assert "String cannot represent" in mistyped["errors"][0]["message"]
    second = data(await gql(client, LOG_IN, {"email": "logs@example.com", "password": PASSWORD}))
    secrets += [token, second["logIn"]["token"]]

    site = await create_site(client, token, domains=[SHOP_DOMAIN])
    key = await create_key(client, token, ["SITES_READ", "PRIVACY", "RECORDINGS_READ"])
    secrets += [site["trackingKey"], key["secret"]]
    data(await gql(client, "{ sites { id } }", token=key["secret"]))
    assert error_code(await gql(client, "{ apiKeys { id } }", token=key["secret"])) == "FORBIDDEN"

    tracking_key = site["trackingKey"]
    preflight = await client.options(
        f"/ingest?key={tracking_key}",
        headers={"Origin": SHOP_ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    body = batch_body(tracking_key, shop_events()[:40])
    response = await post_batch(client, body, headers={})
    assert response.status_code == 200
    stored = await client.post(
        f"/ingest?key={tracking_key}",
        json=batch_body(tracking_key, shop_events()[40:80], seq=1),
        headers={"Origin": SHOP_ORIGIN},
    )
    assert stored.status_code == 200

    replay = await _replay_url(client, token, site["id"])
    assert (await client.get(replay)).status_code == 200
    export = await _export_url(client, settings, key["secret"], site["id"])
    assert (await client.get(export)).status_code == 200
    secrets += [replay.split("signature=")[1], export.split("signature=")[1]]

    bogus = "sl_sess_" + "A" * 43
    secrets.append(bogus)
    assert error_code(await gql(client, VIEWER, token=bogus)) == "UNAUTHENTICATED"
    unauthorized = await client.get(
        f"/heatmaps/{site['id']}.png", headers={"Authorization": f"Bearer {bogus}"}
    )
    assert unauthorized.status_code == 401


async def test_no_secret_ever_reaches_the_logs(
    client: httpx.AsyncClient, settings: Settings, redis: Redis, json_logs: io.StringIO
) -> None:
    secrets: list[str] = []
    await _every_credentialed_operation(client, settings, secrets)

    logged = json_logs.getvalue()
    assert logged.count('"event": "request"') >= 15, "the capture saw the request logs"
    assert '"event": "graphql.error"' in logged
    leaked = {
        secret: [line[:300] for line in logged.splitlines() if secret in line][:2]
        for secret in secrets
        if secret in logged
    }
    assert leaked == {}


async def test_expired_session_token_is_refused_though_still_stored(
    client: httpx.AsyncClient, db: Database
) -> None:
    token = await sign_up(client, "expiry@example.com")
    assert "errors" not in await gql(client, VIEWER, token=token)
    past = datetime.now(UTC) - timedelta(seconds=1)
    await db["auth_tokens"].update_many({}, {"$set": {"expires_at": past}})

    assert error_code(await gql(client, VIEWER, token=token)) == "UNAUTHENTICATED"
    assert await db["auth_tokens"].count_documents({}) == 1


async def test_expired_tokens_are_removed_when_the_account_signs_in_again(
    client: httpx.AsyncClient, db: Database
) -> None:
    token = await sign_up(client, "cleanup@example.com")
    other = await sign_up(client, "other@example.com")
    past = datetime.now(UTC) - timedelta(seconds=1)
    await db["auth_tokens"].update_many({}, {"$set": {"expires_at": past}})

    data(await gql(client, LOG_IN, {"email": "cleanup@example.com", "password": PASSWORD}))

    remaining = await db["auth_tokens"].find({}).to_list(None)
    live = [t for t in remaining if t["expires_at"] > datetime.now(UTC)]
    assert len(live) == 1
    assert len(remaining) == 2, "the other account's expired token is its own business"
    assert error_code(await gql(client, VIEWER, token=token)) == "UNAUTHENTICATED"
    assert error_code(await gql(client, VIEWER, token=other)) == "UNAUTHENTICATED"


async def test_logged_out_token_is_refused_on_the_next_request(client: httpx.AsyncClient) -> None:
    token = await sign_up(client, "bye@example.com")
    assert data(await gql(client, "mutation { logOut }", token=token)) == {"logOut": True}
    assert error_code(await gql(client, VIEWER, token=token)) == "UNAUTHENTICATED"


async def test_api_key_cannot_log_out_change_password_or_delete_the_account(
    client: httpx.AsyncClient,
) -> None:
    token = await sign_up(client, "owner@example.com")
    key = await create_key(client, token, ["SITES_READ", "SITES_WRITE", "PRIVACY"])
    for mutation, variables in (
        ("mutation { logOut }", {}),
        (
            "mutation($p: String!) { changePassword(currentPassword: $p, newPassword: $p) }",
            {"p": PASSWORD},
        ),
        ("mutation($p: String!) { deleteAccount(password: $p) { id } }", {"p": PASSWORD}),
        ('mutation { updateAccount(name: "Mallory") { id } }', {}),
    ):
        assert error_code(await gql(client, mutation, variables, token=key["secret"])) == (
            "FORBIDDEN"
        )
    assert "errors" not in await gql(client, VIEWER, token=token)


@pytest.mark.parametrize(
    ("expires", "signature", "status"),
    [
        ("²", "0" * 64, 403),  # a Unicode digit: str.isdigit() says yes, int() says no
        ("9" * 4000, "0" * 64, 403),  # longer than any timestamp
        ("9" * 5000, "0" * 64, 400),  # longer than Python converts to int, or any parameter
        ("4102444800", "é" * 64, 403),  # not ASCII: hmac.compare_digest refuses such str
        ("4102444800", "", 403),
        ("", "", 403),
        ("-1", "0" * 64, 403),
    ],
)
async def test_malformed_signed_links_are_refused_not_crashed(
    client: httpx.AsyncClient, expires: str, signature: str, status: int
) -> None:
    query = {"expires": expires, "signature": signature}
    replay = await client.get("/replay/some-session", params=query)
    export = await client.get("/exports/some-request", params=query)
    assert (replay.status_code, export.status_code) == (status, status)


async def test_signed_links_are_bound_to_purpose_subject_and_time(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    key = settings.secret_key
    export_query = signed_query(key, export_links.PURPOSE, "abc", 60)
    assert (await client.get(f"/replay/abc?{export_query}")).status_code == 403
    other_subject = replay_path(key, "abc").replace("/replay/abc", "/replay/abd")
    assert (await client.get(other_subject)).status_code == 403
    expired = signed_query(key, "replay", "abc", -1)
    assert (await client.get(f"/replay/abc?{expired}")).status_code == 403
    assert (await client.get(replay_path(key, "abc"))).status_code == 404


async def test_ingest_preflight_answers_only_the_sites_domains(
    client: httpx.AsyncClient,
    site: Site,
) -> None:
    ask = {"Access-Control-Request-Method": "POST"}
    url = f"/ingest?key={site.tracking_key}"

    allowed = await client.options(url, headers={**ask, "Origin": SHOP_ORIGIN})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == SHOP_ORIGIN
    assert "Origin" in allowed.headers["vary"]
    for origin in (FOREIGN_ORIGIN, "null", f"{SHOP_ORIGIN}.evil.example", "*"):
        refused = await client.options(url, headers={**ask, "Origin": origin})
        assert refused.status_code == 403, origin
        assert "access-control-allow-origin" not in refused.headers, origin
    unknown_key = await client.options(
        "/ingest?key=slk_unknown", headers={**ask, "Origin": SHOP_ORIGIN}
    )
    assert "access-control-allow-origin" not in unknown_key.headers


async def test_ingest_never_lets_a_foreign_origin_send_or_read_with_credentials(
    client: httpx.AsyncClient, site: Site, db: Database
) -> None:
    body = batch_body(site.tracking_key, shop_events()[:20])

    foreign = await post_batch(client, body, origin=FOREIGN_ORIGIN)
    assert foreign.status_code == 403
    assert "access-control-allow-origin" not in foreign.headers
    assert await db["sessions"].count_documents({}) == 0
    answers = [
        foreign,
        await post_batch(client, body),
        await post_batch(client, b"{not json", origin=FOREIGN_ORIGIN),
        await client.options(
            f"/ingest?key={site.tracking_key}",
            headers={"Origin": SHOP_ORIGIN, "Access-Control-Request-Method": "POST"},
        ),
    ]
    for answer in answers:
        assert "access-control-allow-credentials" not in answer.headers
        assert answer.headers.get("access-control-allow-origin") != "*"


async def test_graphql_has_no_cors_unless_origins_are_configured(
    client: httpx.AsyncClient,
) -> None:
    preflight = await client.options(
        "/graphql",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
    answer = await client.post(
        "/graphql", json={"query": "{ apiVersion }"}, headers={"Origin": "https://app.example"}
    )
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers


def _preflight_headers(origin: str) -> dict[str, Any]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }


DASHBOARD = "https://app.example"


async def test_graphql_cors_answers_exactly_the_configured_origins(
    settings: Settings, db: Database, redis: Redis
) -> None:
    configured = settings.model_copy(
        update={"SIGHTLINE_CORS_ORIGINS": f"{DASHBOARD}, http://localhost:3000"}
    )
    async with serve(configured) as client:
        preflight = await client.options("/graphql", headers=_preflight_headers(DASHBOARD))
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == DASHBOARD
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        token = await sign_up(client, "dash@example.com")
        answer = await client.post(
            "/graphql",
            json={"query": VIEWER},
            headers={"Origin": DASHBOARD, "Authorization": f"Bearer {token}"},
        )
        assert answer.json()["data"]["viewer"]["id"]
        assert answer.headers["access-control-allow-origin"] == DASHBOARD
        assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()
        for origin in (FOREIGN_ORIGIN, "null", f"{DASHBOARD}.evil.example", "http://app.example"):
            refused = await client.options("/graphql", headers=_preflight_headers(origin))
            assert "access-control-allow-origin" not in refused.headers, origin
            simple = await client.post(
                "/graphql", json={"query": VIEWER}, headers={"Origin": origin}
            )
            assert "access-control-allow-origin" not in simple.headers, origin
        for response in (preflight, answer):
            assert "access-control-allow-credentials" not in response.headers
            assert response.headers["vary"].lower().startswith("origin")


async def test_dashboard_cors_covers_replay_links_but_not_ingest_or_health(
    settings: Settings, db: Database, redis: Redis
) -> None:
    configured = settings.model_copy(update={"SIGHTLINE_CORS_ORIGINS": DASHBOARD})
    async with serve(configured) as client:
        replay = await client.get(
            replay_path(settings.secret_key, "s"), headers={"Origin": DASHBOARD}
        )
        assert replay.status_code == 404
        assert replay.headers["access-control-allow-origin"] == DASHBOARD
        health = await client.get("/healthz", headers={"Origin": DASHBOARD})
        assert "access-control-allow-origin" not in health.headers
        ingest = await client.options("/ingest?key=slk_x", headers=_preflight_headers(DASHBOARD))
        assert ingest.status_code == 403
        assert "access-control-allow-origin" not in ingest.headers


@pytest.mark.parametrize(
    "value", ["*", "https://*.example", "app.example", "https://app.example/path", "null"]
)
def test_cors_origins_must_be_exact_origins(settings: Settings, value: str) -> None:
    with pytest.raises(ConfigError, match="SIGHTLINE_CORS_ORIGINS"):
        load_settings(settings.model_dump(mode="json") | {"SIGHTLINE_CORS_ORIGINS": value})


async def _wait_until_serving(
    client: httpx.AsyncClient, process: asyncio.subprocess.Process
) -> None:
    for _ in range(300):
        assert process.returncode is None, "python -m api exited"
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("python -m api never answered /healthz")


async def test_the_served_api_logs_no_query_string(
    settings: Settings, db: Database, tmp_path: Any
) -> None:
    """`python -m api` as deployed: uvicorn's access log would print `?key=` and signatures."""
    port = free_port()
    env = os.environ | {
        "MONGODB_URL": settings.mongodb_url,
        "REDIS_URL": settings.redis_url,
        "MONGODB_DATABASE": settings.MONGODB_DATABASE,
        "SIGHTLINE_PORT": str(port),
        "SIGHTLINE_SECRET_KEY": "s" * 40,
        "SIGHTLINE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SIGHTLINE_LOG_LEVEL": "DEBUG",
    }
    log_path = tmp_path / "api.log"
    with log_path.open("w") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "api", env=env, stdout=output, stderr=asyncio.subprocess.STDOUT
        )
    secrets = ["slk_QueryStringKeyValue123", "f" * 64]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await _wait_until_serving(client, process)
            preflight = await client.options(
                f"/ingest?key={secrets[0]}",
                headers={"Origin": SHOP_ORIGIN, "Access-Control-Request-Method": "POST"},
            )
            assert preflight.status_code == 403
            replay = await client.get(f"/replay/abc?expires=4102444800&signature={secrets[1]}")
            assert replay.status_code == 403
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)
    logged = log_path.read_text()
    assert '"path": "/ingest"' in logged, logged
    assert '"path": "/replay/abc"' in logged
    assert [secret for secret in secrets if secret in logged] == []


def test_cors_origins_accept_a_list_of_origins(settings: Settings) -> None:
    value = " https://app.example, http://localhost:3000/ "
    loaded = load_settings(settings.model_dump(mode="json") | {"SIGHTLINE_CORS_ORIGINS": value})
    assert parse_origins(loaded.SIGHTLINE_CORS_ORIGINS) == [
        "https://app.example",
        "http://localhost:3000",
    ]


async def test_a_failed_account_deletion_leaves_no_working_key_on_a_deleted_account(
    client: httpx.AsyncClient,
    account: Account,
    site: Site,
    api_key: MakeApiKey,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = await api_key(["SITES_READ"])
    delete = "mutation($p: String!) { deleteAccount(password: $p) { id } }"

    async def storage_fails(*args: object, **kwargs: object) -> int:
        raise RuntimeError("storage failed while revoking the keys")

    with monkeypatch.context() as patch:
        patch.setattr(api_keys, "delete_account_keys", storage_fails)
        failed = await gql(client, delete, {"p": PASSWORD}, token=site.token)
    assert failed["errors"][0]["message"] == "Unexpected error."

    sites_seen = await gql(client, "{ sites { id } }", token=key.secret)
    account_left = await db["accounts"].count_documents({})
    assert account_left == 1 or error_code(sites_seen) == "UNAUTHENTICATED"
    assert account_left == 1, "credentials go first, so a retry is possible"
    again = data(await gql(client, LOG_IN, {"email": account.email, "password": PASSWORD}))
    data(await gql(client, delete, {"p": PASSWORD}, token=again["logIn"]["token"]))
    assert error_code(await gql(client, "{ sites { id } }", token=key.secret)) == (
        "UNAUTHENTICATED"
    )


@strawberry.type
class LeakyQuery:
    @strawberry.field
    def name(self) -> str:
        return {"password_hash": "$argon2id$v=19$secret"}  # type: ignore[return-value]

    @strawberry.field
    def echo(self, word: str) -> str:
        return word


async def test_request_errors_reach_the_client_but_execution_errors_stay_masked(
    settings: Settings,
) -> None:
    schema = build_schema(
        query=LeakyQuery,
        mutation=None,
        extra_rules={"Query.name": ANYONE, "Query.echo": ANYONE},
    )
    app = make_app(settings, schema=schema)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            leaky = await gql(client, "{ name }")
            mistyped = await gql(client, "query($w: String!) { echo(word: $w) }", {"w": [1]})
    assert leaky["errors"][0]["message"] == "Unexpected error."
    assert "argon2" not in str(leaky)
    assert "String cannot represent a non string value" in mistyped["errors"][0]["message"]
