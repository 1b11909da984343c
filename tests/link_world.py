"""An account whose every link field has something to link to.

One site with a processed recording (a session to replay), a saved funnel whose second step
nobody reached (a dropped session with a replay link), and a finished visitor export (a
download link). `values` gives each required argument of every path to those fields.
"""

from dataclasses import dataclass
from typing import Any

import httpx

from core.config import Settings
from service.scopes import Scope
from tests.accounts_helpers import PASSWORD, create_key, data
from tests.graphql_client import gql
from tests.ingest_helpers import send_recording, shop_events
from tests.workers_helpers import run_worker_burst
from tests.world_fixtures import new_site

VISITOR = "visitor-0001"
RANGE = {"start": "2026-11-28T00:00:00Z", "end": "2026-11-30T00:00:00Z"}  # the shop recording
FUNNEL = {"steps": [{"type": "PAGE_VIEW"}, {"type": "CUSTOM", "name": "never sent"}]}


@dataclass
class LinkWorld:
    client: httpx.AsyncClient
    owner: str
    site_id: str
    session_id: str
    funnel_id: str
    export_id: str

    def values(self) -> dict[str, Any]:
        return {
            "siteId": self.site_id,
            "range": RANGE,
            "definition": FUNNEL,
            "name": "Checkout",
            "visitorId": VISITOR,
            "Query.session.id": self.session_id,
            "Query.visitor.id": VISITOR,
            "Query.funnel.id": self.funnel_id,
            "Query.privacyRequest.id": self.export_id,
            "Mutation.updateFunnel.id": self.funnel_id,
            "Mutation.deleteAccount.password": PASSWORD,
        }

    async def key(self, scopes: set[Scope]) -> str:
        created = await create_key(self.client, self.owner, sorted(s.name for s in scopes))
        secret: str = created["secret"]
        return secret


async def link_world(client: httpx.AsyncClient, settings: Settings) -> LinkWorld:
    site = await new_site(client)
    await send_recording(client, site.tracking_key, shop_events(), batch_size=100)
    await run_worker_burst(settings)
    sessions = await gql(
        client,
        "query($s: ID!) { sessions(siteId: $s) { nodes { id } } }",
        {"s": site.id},
        token=site.token,
    )
    funnel = await gql(
        client,
        "mutation($s: ID!, $d: FunnelDefinitionInput!) "
        '{ createFunnel(siteId: $s, name: "Never", definition: $d) { id } }',
        {"s": site.id, "d": FUNNEL},
        token=site.token,
    )
    export = await gql(
        client,
        "mutation($s: ID!, $v: String!) { exportVisitor(siteId: $s, visitorId: $v) { id } }",
        {"s": site.id, "v": VISITOR},
        token=site.token,
    )
    await run_worker_burst(settings)
    return LinkWorld(
        client=client,
        owner=site.token,
        site_id=site.id,
        session_id=data(sessions)["sessions"]["nodes"][0]["id"],
        funnel_id=data(funnel)["createFunnel"]["id"],
        export_id=data(export)["exportVisitor"]["id"],
    )
