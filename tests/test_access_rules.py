"""A second account cannot read or change the first account's objects.

`ATTEMPTS` has one entry for every query and mutation in the schema (a test
fails when an operation is added without one). Each entry is what an intruder
does with the owner's ids, and what it must get: the same answer as for an
object that does not exist, or only its own data.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from graphql import GraphQLObjectType

from graph.access import RULES
from graph.schema import schema
from tests.accounts_helpers import PASSWORD, create_key, create_site, data, error_code, sign_up
from tests.graphql_client import gql
from tests.ingest_helpers import SHOP_DOMAIN, send_recording, shop_events


@dataclass
class World:
    client: httpx.AsyncClient
    owner: str
    owner_site: dict[str, Any]
    owner_key: dict[str, Any]
    owner_session: str
    intruder: str

    async def as_intruder(
        self, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return await gql(self.client, query, variables, token=self.intruder)


Check = Callable[[World], Awaitable[None]]


async def _not_found(world: World, query: str, variables: dict[str, Any]) -> None:
    assert error_code(await world.as_intruder(query, variables)) == "NOT_FOUND"


async def api_version(w: World) -> None:
    assert data(await w.as_intruder("{ apiVersion }")) == {"apiVersion": "1"}


async def viewer(w: World) -> None:
    body = data(await w.as_intruder("{ viewer { email sites { id } } }"))
    assert body["viewer"] == {"email": "intruder@example.com", "sites": []}


async def api_keys(w: World) -> None:
    assert data(await w.as_intruder("{ apiKeys { id } }")) == {"apiKeys": []}


async def sites(w: World) -> None:
    assert data(await w.as_intruder("{ sites { id } }")) == {"sites": []}


async def site(w: World) -> None:
    await _not_found(w, "query($id: ID!) { site(id: $id) { id } }", {"id": w.owner_site["id"]})


async def sign_up_(w: World) -> None:
    body = await w.as_intruder(
        'mutation { signUp(email: "owner@example.com", password: "whatever long", name: "x") '
        "{ token } }"
    )
    assert body["errors"][0]["message"] == "An account with this email address already exists."


async def log_in(w: World) -> None:
    body = await w.as_intruder(
        'mutation { logIn(email: "owner@example.com", password: "not the password") { token } }'
    )
    assert error_code(body) == "UNAUTHENTICATED"


async def log_out(w: World) -> None:
    assert data(await w.as_intruder("mutation { logOut }")) == {"logOut": True}
    assert "errors" not in await gql(w.client, "{ viewer { id } }", token=w.owner)


async def update_account(w: World) -> None:
    body = data(await w.as_intruder('mutation { updateAccount(name: "Mallory") { email name } }'))
    assert body["updateAccount"] == {"email": "intruder@example.com", "name": "Mallory"}


async def change_password(w: World) -> None:
    body = await w.as_intruder(
        'mutation { changePassword(currentPassword: "correct horse battery", '
        'newPassword: "taken over!!") }'
    )
    assert data(body) == {"changePassword": True}
    owner_login = await gql(
        w.client,
        'mutation($p: String!) { logIn(email: "owner@example.com", password: $p) { token } }',
        {"p": PASSWORD},
    )
    assert "errors" not in owner_login


async def delete_account(w: World) -> None:
    body = data(
        await w.as_intruder(f'mutation {{ deleteAccount(password: "{PASSWORD}") {{ kind }} }}')
    )
    assert body["deleteAccount"]["kind"] == "delete_account"
    assert "errors" not in await gql(w.client, "{ viewer { id } }", token=w.owner)


async def create_api_key(w: World) -> None:
    await _not_found(
        w,
        'mutation($s: [ID!]) { createApiKey(name: "k", scopes: [SITES_READ], siteIds: $s) '
        "{ secret } }",
        {"s": [w.owner_site["id"]]},
    )


async def revoke_api_key(w: World) -> None:
    await _not_found(
        w, "mutation($id: ID!) { revokeApiKey(id: $id) }", {"id": w.owner_key["apiKey"]["id"]}
    )


async def create_site_(w: World) -> None:
    created = data(
        await w.as_intruder('mutation { createSite(name: "Mine", domains: ["m.example"]) { id } }')
    )
    assert created["createSite"]["id"] != w.owner_site["id"]


async def update_site(w: World) -> None:
    await _not_found(
        w,
        'mutation($id: ID!) { updateSite(id: $id, changes: {name: "pwned"}) { id } }',
        {"id": w.owner_site["id"]},
    )


async def rotate_tracking_key(w: World) -> None:
    await _not_found(
        w,
        "mutation($id: ID!) { rotateTrackingKey(siteId: $id) { id } }",
        {"id": w.owner_site["id"]},
    )


async def delete_site(w: World) -> None:
    await _not_found(
        w, "mutation($id: ID!) { deleteSite(siteId: $id) { id } }", {"id": w.owner_site["id"]}
    )


async def sessions_(w: World) -> None:
    await _not_found(
        w, "query($id: ID!) { sessions(siteId: $id) { nodes { id } } }", {"id": w.owner_site["id"]}
    )


async def session(w: World) -> None:
    await _not_found(
        w, "query($id: ID!) { session(id: $id) { id replayUrl } }", {"id": w.owner_session}
    )


async def visitor(w: World) -> None:
    await _not_found(
        w,
        'query($id: ID!) { visitor(siteId: $id, id: "visitor-0001") { id } }',
        {"id": w.owner_site["id"]},
    )


async def events_(w: World) -> None:
    await _not_found(
        w, "query($id: ID!) { events(siteId: $id) { nodes { id } } }", {"id": w.owner_site["id"]}
    )


async def event_counts(w: World) -> None:
    await _not_found(
        w,
        "query($id: ID!) { eventCounts(siteId: $id, range: "
        '{start: "2026-01-01T00:00:00Z", end: "2026-02-01T00:00:00Z"}) { count } }',
        {"id": w.owner_site["id"]},
    )


async def recompute_signals(w: World) -> None:
    await _not_found(
        w, "mutation($id: ID!) { recomputeSignals(siteId: $id) }", {"id": w.owner_site["id"]}
    )


RANGE = '{start: "2026-11-01T00:00:00Z", end: "2026-12-01T00:00:00Z"}'


async def privacy_requests_(w: World) -> None:
    await _not_found(
        w, "query($id: ID!) { privacyRequests(siteId: $id) { id } }", {"id": w.owner_site["id"]}
    )


async def privacy_request(w: World) -> None:
    owner_request = await gql(
        w.client,
        'mutation($id: ID!) { exportVisitor(siteId: $id, visitorId: "visitor-0001") { id } }',
        {"id": w.owner_site["id"]},
        token=w.owner,
    )
    request_id = data(owner_request)["exportVisitor"]["id"]
    await _not_found(w, "query($id: ID!) { privacyRequest(id: $id) { id } }", {"id": request_id})


async def erase_visitor(w: World) -> None:
    await _not_found(
        w,
        'mutation($id: ID!) { eraseVisitor(siteId: $id, visitorId: "visitor-0001") { id } }',
        {"id": w.owner_site["id"]},
    )


async def erase_recordings(w: World) -> None:
    await _not_found(
        w,
        f"mutation($id: ID!) {{ eraseRecordings(siteId: $id, range: {RANGE}) {{ id }} }}",
        {"id": w.owner_site["id"]},
    )


async def export_visitor(w: World) -> None:
    await _not_found(
        w,
        'mutation($id: ID!) { exportVisitor(siteId: $id, visitorId: "visitor-0001") { id } }',
        {"id": w.owner_site["id"]},
    )


async def scan_recordings(w: World) -> None:
    await _not_found(
        w,
        "mutation($id: ID!) { scanRecordings(siteId: $id, "
        f"range: {RANGE}, redact: true) {{ id }} }}",
        {"id": w.owner_site["id"]},
    )


async def heatmap(w: World) -> None:
    await _not_found(
        w,
        'query($id: ID!) { heatmap(siteId: $id, url: "/shop.html", '
        f"range: {RANGE}) {{ total }} }}",
        {"id": w.owner_site["id"]},
    )


FUNNEL = {"steps": [{"type": "PAGE_VIEW"}, {"type": "CLICK"}]}
FUNNEL_OF_OWNER = "query($id: ID!) { funnel(id: $id) { name } }"


async def _owner_funnel(w: World) -> str:
    body = await gql(
        w.client,
        "mutation($s: ID!, $d: FunnelDefinitionInput!) "
        '{ createFunnel(siteId: $s, name: "Checkout", definition: $d) { id } }',
        {"s": w.owner_site["id"], "d": FUNNEL},
        token=w.owner,
    )
    funnel_id: str = data(body)["createFunnel"]["id"]
    return funnel_id


async def _owner_funnel_name(w: World, funnel_id: str) -> str:
    body = await gql(w.client, FUNNEL_OF_OWNER, {"id": funnel_id}, token=w.owner)
    name: str = data(body)["funnel"]["name"]
    return name


async def funnels_(w: World) -> None:
    await _owner_funnel(w)
    await _not_found(
        w, "query($id: ID!) { funnels(siteId: $id) { id } }", {"id": w.owner_site["id"]}
    )


async def funnel(w: World) -> None:
    await _not_found(w, FUNNEL_OF_OWNER, {"id": await _owner_funnel(w)})


async def funnel_result(w: World) -> None:
    await _not_found(
        w,
        "query($id: ID!, $d: FunnelDefinitionInput!) "
        f"{{ funnelResult(siteId: $id, definition: $d, range: {RANGE}) {{ totalUnits }} }}",
        {"id": w.owner_site["id"], "d": FUNNEL},
    )


async def create_funnel(w: World) -> None:
    await _not_found(
        w,
        "mutation($id: ID!, $d: FunnelDefinitionInput!) "
        '{ createFunnel(siteId: $id, name: "Mine", definition: $d) { id } }',
        {"id": w.owner_site["id"], "d": FUNNEL},
    )


async def update_funnel(w: World) -> None:
    funnel_id = await _owner_funnel(w)
    await _not_found(
        w, 'mutation($id: ID!) { updateFunnel(id: $id, name: "pwned") { id } }', {"id": funnel_id}
    )
    assert await _owner_funnel_name(w, funnel_id) == "Checkout"


async def delete_funnel(w: World) -> None:
    funnel_id = await _owner_funnel(w)
    await _not_found(w, "mutation($id: ID!) { deleteFunnel(id: $id) }", {"id": funnel_id})
    assert await _owner_funnel_name(w, funnel_id) == "Checkout"


ATTEMPTS: dict[str, Check] = {
    "Query.apiVersion": api_version,
    "Query.viewer": viewer,
    "Query.apiKeys": api_keys,
    "Query.sites": sites,
    "Query.site": site,
    "Mutation.signUp": sign_up_,
    "Mutation.logIn": log_in,
    "Mutation.logOut": log_out,
    "Mutation.updateAccount": update_account,
    "Mutation.changePassword": change_password,
    "Mutation.deleteAccount": delete_account,
    "Mutation.createApiKey": create_api_key,
    "Mutation.revokeApiKey": revoke_api_key,
    "Mutation.createSite": create_site_,
    "Mutation.updateSite": update_site,
    "Mutation.rotateTrackingKey": rotate_tracking_key,
    "Mutation.deleteSite": delete_site,
    "Query.sessions": sessions_,
    "Query.session": session,
    "Query.visitor": visitor,
    "Query.events": events_,
    "Query.eventCounts": event_counts,
    "Mutation.recomputeSignals": recompute_signals,
    "Query.heatmap": heatmap,
    "Query.privacyRequests": privacy_requests_,
    "Query.privacyRequest": privacy_request,
    "Mutation.eraseVisitor": erase_visitor,
    "Mutation.eraseRecordings": erase_recordings,
    "Mutation.exportVisitor": export_visitor,
    "Mutation.scanRecordings": scan_recordings,
    "Query.funnels": funnels_,
    "Query.funnel": funnel,
    "Query.funnelResult": funnel_result,
    "Mutation.createFunnel": create_funnel,
    "Mutation.updateFunnel": update_funnel,
    "Mutation.deleteFunnel": delete_funnel,
}


def schema_operations() -> set[str]:
    graphql_schema = schema._schema
    names = set()
    for root in (graphql_schema.query_type, graphql_schema.mutation_type):
        if isinstance(root, GraphQLObjectType):
            names.update(f"{root.name}.{field}" for field in root.fields)
    return names


def test_every_operation_has_an_access_rule_and_an_intruder_check() -> None:
    operations = schema_operations()
    assert operations == set(RULES), "graph.access.RULES and the schema disagree"
    assert operations == set(ATTEMPTS), "add the new operation to ATTEMPTS in this file"


async def _owner_state(w: World) -> dict[str, Any]:
    site = await gql(
        w.client,
        "query($id: ID!) { site(id: $id) { name trackingKey domains } }",
        {"id": w.owner_site["id"]},
        token=w.owner,
    )
    keys = await gql(w.client, "{ apiKeys { id } }", token=w.owner)
    found = await gql(w.client, SESSIONS, {"id": w.owner_site["id"]}, token=w.owner)
    return {"site": data(site), "keys": data(keys), "sessions": data(found)}


SESSIONS = "query($id: ID!) { sessions(siteId: $id) { nodes { id eventCount } } }"


@pytest.mark.parametrize("operation", sorted(ATTEMPTS))
async def test_intruder_cannot_reach_the_owners_objects(
    operation: str, client: httpx.AsyncClient
) -> None:
    owner = await sign_up(client, "owner@example.com")
    site = await create_site(client, owner, domains=[SHOP_DOMAIN])
    await send_recording(client, site["trackingKey"], shop_events()[:10])
    found = data(await gql(client, SESSIONS, {"id": site["id"]}, token=owner))
    world = World(
        client=client,
        owner=owner,
        owner_site=site,
        owner_key=await create_key(client, owner, ["SITES_READ"]),
        owner_session=found["sessions"]["nodes"][0]["id"],
        intruder=await sign_up(client, "intruder@example.com", name="Intruder"),
    )
    before = await _owner_state(world)
    await ATTEMPTS[operation](world)
    assert await _owner_state(world) == before
