"""A second account cannot read or change the first account's objects, and a key's scopes
hold at every depth.

`ATTEMPTS` has one entry for every query and mutation in the schema (a test
fails when an operation is added without one). Each entry is what an intruder
does with the owner's ids, and what it must get: the same answer as for an
object that does not exist, or only its own data.

Below the roots, the schema is walked generically (`tests/schema_paths.py`): every field
that returns a `Link` has a rule, and every field with a rule of its own is refused, through
every path that reaches it, to an API key holding the scopes of that path but not the
field's; a key holding them all gets links that work.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from graphql import GraphQLObjectType

from core.config import Settings
from graph.access import RULES
from graph.schema import schema
from service.access import Audience
from service.scopes import Scope
from tests.accounts_helpers import PASSWORD, data, error_code, sign_up
from tests.conftest import PUBLIC_URL
from tests.graphql_client import gql
from tests.ingest_helpers import shop_events
from tests.link_world import LinkWorld, link_world
from tests.schema_paths import (
    ROOTS,
    all_fields,
    link_fields,
    operation,
    paths_to,
    reachable_by_api_keys,
    ruled_fields_below_the_roots,
    rules_along,
    scopes_along,
)
from tests.world_fixtures import ApiKey, IngestRecording, MakeApiKey, Site


@dataclass
class World:
    client: httpx.AsyncClient
    owner: str
    owner_site: Site
    owner_key: ApiKey
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
    await _not_found(w, "query($id: ID!) { site(id: $id) { id } }", {"id": w.owner_site.id})


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
        {"s": [w.owner_site.id]},
    )


async def revoke_api_key(w: World) -> None:
    await _not_found(w, "mutation($id: ID!) { revokeApiKey(id: $id) }", {"id": w.owner_key.id})


async def create_site_(w: World) -> None:
    created = data(
        await w.as_intruder('mutation { createSite(name: "Mine", domains: ["m.example"]) { id } }')
    )
    assert created["createSite"]["id"] != w.owner_site.id


async def update_site(w: World) -> None:
    await _not_found(
        w,
        'mutation($id: ID!) { updateSite(id: $id, changes: {name: "pwned"}) { id } }',
        {"id": w.owner_site.id},
    )


async def rotate_tracking_key(w: World) -> None:
    await _not_found(
        w,
        "mutation($id: ID!) { rotateTrackingKey(siteId: $id) { id } }",
        {"id": w.owner_site.id},
    )


async def delete_site(w: World) -> None:
    await _not_found(
        w, "mutation($id: ID!) { deleteSite(siteId: $id) { id } }", {"id": w.owner_site.id}
    )


async def sessions_(w: World) -> None:
    await _not_found(
        w, "query($id: ID!) { sessions(siteId: $id) { nodes { id } } }", {"id": w.owner_site.id}
    )


async def session(w: World) -> None:
    await _not_found(
        w, "query($id: ID!) { session(id: $id) { id replayUrl } }", {"id": w.owner_session}
    )


async def visitor(w: World) -> None:
    await _not_found(
        w,
        'query($id: ID!) { visitor(siteId: $id, id: "visitor-0001") { id } }',
        {"id": w.owner_site.id},
    )


async def events_(w: World) -> None:
    await _not_found(
        w, "query($id: ID!) { events(siteId: $id) { nodes { id } } }", {"id": w.owner_site.id}
    )


async def event_counts(w: World) -> None:
    await _not_found(
        w,
        "query($id: ID!) { eventCounts(siteId: $id, range: "
        '{start: "2026-01-01T00:00:00Z", end: "2026-02-01T00:00:00Z"}) { count } }',
        {"id": w.owner_site.id},
    )


async def recompute_signals(w: World) -> None:
    await _not_found(
        w, "mutation($id: ID!) { recomputeSignals(siteId: $id) }", {"id": w.owner_site.id}
    )


RANGE = '{start: "2026-11-01T00:00:00Z", end: "2026-12-01T00:00:00Z"}'


async def privacy_requests_(w: World) -> None:
    await _not_found(
        w, "query($id: ID!) { privacyRequests(siteId: $id) { id } }", {"id": w.owner_site.id}
    )


async def privacy_request(w: World) -> None:
    owner_request = await gql(
        w.client,
        'mutation($id: ID!) { exportVisitor(siteId: $id, visitorId: "visitor-0001") { id } }',
        {"id": w.owner_site.id},
        token=w.owner,
    )
    request_id = data(owner_request)["exportVisitor"]["id"]
    await _not_found(w, "query($id: ID!) { privacyRequest(id: $id) { id } }", {"id": request_id})


async def erase_visitor(w: World) -> None:
    await _not_found(
        w,
        'mutation($id: ID!) { eraseVisitor(siteId: $id, visitorId: "visitor-0001") { id } }',
        {"id": w.owner_site.id},
    )


async def erase_recordings(w: World) -> None:
    await _not_found(
        w,
        f"mutation($id: ID!) {{ eraseRecordings(siteId: $id, range: {RANGE}) {{ id }} }}",
        {"id": w.owner_site.id},
    )


async def export_visitor(w: World) -> None:
    await _not_found(
        w,
        'mutation($id: ID!) { exportVisitor(siteId: $id, visitorId: "visitor-0001") { id } }',
        {"id": w.owner_site.id},
    )


async def scan_recordings(w: World) -> None:
    await _not_found(
        w,
        "mutation($id: ID!) { scanRecordings(siteId: $id, "
        f"range: {RANGE}, redact: true) {{ id }} }}",
        {"id": w.owner_site.id},
    )


async def heatmap(w: World) -> None:
    await _not_found(
        w,
        'query($id: ID!) { heatmap(siteId: $id, url: "/shop.html", '
        f"range: {RANGE}) {{ total }} }}",
        {"id": w.owner_site.id},
    )


FUNNEL = {"steps": [{"type": "PAGE_VIEW"}, {"type": "CLICK"}]}
FUNNEL_OF_OWNER = "query($id: ID!) { funnel(id: $id) { name } }"


async def _owner_funnel(w: World) -> str:
    body = await gql(
        w.client,
        "mutation($s: ID!, $d: FunnelDefinitionInput!) "
        '{ createFunnel(siteId: $s, name: "Checkout", definition: $d) { id } }',
        {"s": w.owner_site.id, "d": FUNNEL},
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
    await _not_found(w, "query($id: ID!) { funnels(siteId: $id) { id } }", {"id": w.owner_site.id})


async def funnel(w: World) -> None:
    await _not_found(w, FUNNEL_OF_OWNER, {"id": await _owner_funnel(w)})


async def funnel_result(w: World) -> None:
    await _not_found(
        w,
        "query($id: ID!, $d: FunnelDefinitionInput!) "
        f"{{ funnelResult(siteId: $id, definition: $d, range: {RANGE}) {{ totalUnits }} }}",
        {"id": w.owner_site.id, "d": FUNNEL},
    )


async def create_funnel(w: World) -> None:
    await _not_found(
        w,
        "mutation($id: ID!, $d: FunnelDefinitionInput!) "
        '{ createFunnel(siteId: $id, name: "Mine", definition: $d) { id } }',
        {"id": w.owner_site.id, "d": FUNNEL},
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
    root_rules = {name for name in RULES if name.split(".")[0] in ROOTS}
    assert operations == root_rules, "graph.access.RULES and the schema disagree"
    assert operations == set(ATTEMPTS), "add the new operation to ATTEMPTS in this file"


async def _owner_state(w: World) -> dict[str, Any]:
    site = await gql(
        w.client,
        "query($id: ID!) { site(id: $id) { name trackingKey domains } }",
        {"id": w.owner_site.id},
        token=w.owner,
    )
    keys = await gql(w.client, "{ apiKeys { id } }", token=w.owner)
    found = await gql(w.client, SESSIONS, {"id": w.owner_site.id}, token=w.owner)
    return {"site": data(site), "keys": data(keys), "sessions": data(found)}


SESSIONS = "query($id: ID!) { sessions(siteId: $id) { nodes { id eventCount } } }"


@pytest.mark.parametrize("operation", sorted(ATTEMPTS))
async def test_intruder_cannot_reach_the_owners_objects(
    operation: str,
    client: httpx.AsyncClient,
    site: Site,
    api_key: MakeApiKey,
    ingest_recording: IngestRecording,
) -> None:
    await ingest_recording(site, events=shop_events()[:10])
    found = data(await gql(client, SESSIONS, {"id": site.id}, token=site.token))
    world = World(
        client=client,
        owner=site.token,
        owner_site=site,
        owner_key=await api_key(["SITES_READ"]),
        owner_session=found["sessions"]["nodes"][0]["id"],
        intruder=await sign_up(client, "intruder@example.com", name="Intruder"),
    )
    before = await _owner_state(world)
    await ATTEMPTS[operation](world)
    assert await _owner_state(world) == before


# Below the roots: links, and every other field with a rule of its own.


def test_every_link_field_has_an_access_rule() -> None:
    assert link_fields(), "the walk found no Link field: is the scalar still called Link?"
    assert [name for name in link_fields() if name not in RULES] == []
    assert all(paths_to(name) for name in link_fields())


def test_every_rule_names_a_field_of_the_schema() -> None:
    assert set(RULES) - set(all_fields()) == set(), "a rule for a field that does not exist"


URL_NAMES = ("url", "urls", "link", "links", "href")
RECORDED_ADDRESSES = {
    # Addresses the visitor's browser reported, not links into this API.
    "Event.href",
    "Event.url",
    "PageView.url",
    "Session.entryUrl",
    "Session.exitUrl",
}


def test_fields_named_like_links_are_links_or_recorded_addresses() -> None:
    """A new link typed `String` would escape the rules; its name gives it away."""
    named = {name for name in all_fields() if name.split(".")[1].lower().endswith(URL_NAMES)}
    assert named - set(link_fields()) == RECORDED_ADDRESSES


def _refusals() -> list[tuple[str, tuple[str, ...]]]:
    """(field, path) where an API key can reach the field without holding its scope."""
    cases = []
    for name in ruled_fields_below_the_roots():
        scope = RULES[name].scope
        for path in paths_to(name):
            if reachable_by_api_keys(path) and scope not in scopes_along(path[:-1]):
                cases.append((name, path))
    return cases


REFUSALS = _refusals()


def test_the_walk_finds_fields_to_refuse() -> None:
    assert REFUSALS, "no ruled field below the roots is reachable without its scope"


async def _ask(
    world: LinkWorld, path: tuple[str, ...], key: str
) -> tuple[list[Any], dict[str, Any]]:
    op = operation(path, world.values())
    body = await gql(world.client, op.query, op.variables, token=key)
    return op.leaves(body.get("data")), body


@pytest.mark.parametrize(
    ("field", "path"), REFUSALS, ids=[" > ".join(path) for _, path in REFUSALS]
)
async def test_a_key_without_the_fields_scope_gets_null_and_forbidden(
    field: str, path: tuple[str, ...], client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await link_world(client, settings)
    held = scopes_along(path[:-1]) or {next(s for s in Scope if s is not RULES[field].scope)}
    leaves, body = await _ask(world, path, await world.key(held))
    assert leaves, f"the path reached nothing: {body}"
    assert all(leaf is None for leaf in leaves), body
    errors = body.get("errors") or []
    assert errors, body
    names = [step.split(".")[1] for step in path]
    # Only the refused field is null: the rest of the answer (a mutation's own) stands.
    assert (body.get("data") or {}).get(names[0]) is not None, body
    for error in errors:
        assert error["extensions"]["code"] == "FORBIDDEN", error
        assert [part for part in error["path"] if isinstance(part, str)] == names, error


QUERY_LINK_PATHS = [
    (name, path)
    for name in link_fields()
    for path in paths_to(name)
    if path[0].startswith("Query.")
]


async def test_a_key_with_the_scopes_gets_working_links_through_every_query(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """Read-only paths share one world; mutations are covered by the refusal test above."""
    world = await link_world(client, settings)
    linked: set[str] = set()
    for name, path in QUERY_LINK_PATHS:
        assert all(rule.audience is not Audience.PERSON for rule in rules_along(path))
        leaves, body = await _ask(world, path, await world.key(scopes_along(path)))
        assert "errors" not in body, (path, body["errors"])
        for link in [leaf for leaf in leaves if leaf is not None]:
            assert link.startswith(f"{PUBLIC_URL}/"), link
            response = await client.get(link)
            assert response.status_code == 200, (path, response.text)
            linked.add(name)
    assert linked == set(link_fields()), "some link field gave no link through any query"
