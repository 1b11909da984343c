"""Selector conditions through every consumer of them: funnel steps, the events filter (list and
counts) and a heatmap's top elements, for events with element paths and for events stored
before paths were kept (`selector` only), in CSS and EXACT mode."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from core.rrweb.dom import NodeTable
from storage import heatmaps
from storage.database import Database
from storage.events import event_document
from storage.ids import session_key
from tests.accounts_helpers import data, error_code
from tests.events_helpers import store_derived
from tests.graphql_client import gql
from tests.world_fixtures import new_site
from workers.extraction.selector import element_path, selector_of
from workers.heatmap_rollup import add_click

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
RANGE = {"start": "2026-03-01T00:00:00Z", "end": "2026-03-09T00:00:00Z"}
URL = "https://shop.example/cart"


def element(
    nid: int, tag: str, children: list[Any] | None = None, **attributes: str
) -> dict[str, Any]:
    return {
        "type": 2,
        "id": nid,
        "tagName": tag,
        "attributes": {
            name.strip("_").replace("_", "-"): value for name, value in attributes.items()
        },
        "childNodes": children or [],
    }


# <div class="shell"><form id="checkout" class="cart"><button A><span B></form>
# <nav><button C></nav></div><button D id="buy">
PAGE = {
    "type": 0,
    "id": 1,
    "childNodes": [
        element(2, "html", [
            element(3, "body", [
                element(4, "div", [
                    element(5, "form", [
                        element(6, "button", class_="add primary", data_testid="x", type="submit"),
                        element(7, "span", class_="add"),
                    ], id="checkout", class_="cart"),
                    element(8, "nav", [element(9, "button", class_="add")]),
                ], class_="shell"),
                element(10, "button", id="buy", class_="add"),
            ]),
        ]),
    ],
}  # fmt: skip
A, B, C, D = 6, 7, 9, 10
# Which clicks each selector finds, on events with paths and on events stored without them
# (their selector stops at an element with an id, and never held attributes).
CSS_CASES: list[tuple[str, set[int], set[int]]] = [
    ("button.add", {A, C, D}, {A, C, D}),
    (".add", {A, B, C, D}, {A, B, C, D}),
    ("#buy", {D}, {D}),
    ("form > button", {A}, {A}),
    ("div button", {A, C}, {C}),
    ("[data-testid=x]", {A}, set()),
    ("nav button, #buy", {C, D}, {C, D}),
]


def clicks(legacy: bool) -> dict[int, dict[str, Any]]:
    """The derived fields of a click on each of A, B, C, D, as the extractor writes them."""
    table = NodeTable()
    table.apply_full_snapshot(PAGE)
    found = {}
    for position, node_id in enumerate((A, B, C, D)):
        fields: dict[str, Any] = {"selector": selector_of(table, node_id), "tag": "x"}
        if not legacy:
            fields["element_path"] = element_path(table, node_id)
        where = {"x": 100.0 + 300 * position, "y": 50.0, "viewport_width": 1280}
        found[node_id] = {**fields, **where, "url": URL, "path": "/cart"}
    return found


class Consumers:
    """One site whose sessions each view the page then click one element."""

    def __init__(self, client: httpx.AsyncClient, token: str, site_id: str) -> None:
        self.client, self.token, self.site_id = client, token, site_id

    async def ask(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await gql(self.client, query, {"s": self.site_id, **variables}, token=self.token)
        return body

    async def events(self, selector: str, how: str | None) -> set[str]:
        query = """query($s: ID!, $f: EventFilter, $r: TimeRange!) {
          events(siteId: $s, filter: $f, first: 100) { nodes { selector } }
          eventCounts(siteId: $s, range: $r, filter: $f) { count } }"""
        f = {"selector": selector, "kinds": ["CLICK"], **_how(how)}
        found = data(await self.ask(query, f=f, r=RANGE))
        selectors = {node["selector"] for node in found["events"]["nodes"]}
        assert sum(row["count"] for row in found["eventCounts"]) == len(selectors)
        return selectors

    async def funnel(self, selector: str, how: str | None) -> int:
        query = """query($s: ID!, $d: FunnelDefinitionInput!, $r: TimeRange!) {
          funnelResult(siteId: $s, definition: $d, range: $r) { steps { entered } } }"""
        steps = [{"type": "PAGE_VIEW"}, {"type": "CLICK", "selector": selector, **_how(how)}]
        found = data(await self.ask(query, d={"steps": steps}, r=RANGE))
        entered: int = found["funnelResult"]["steps"][1]["entered"]
        return entered

    async def heatmap(self, selector: str, how: str | None) -> set[str]:
        argument = f", selectorMatch: {how}" if how else ""
        query = f"""query($s: ID!, $r: TimeRange!, $sel: String) {{
          heatmap(siteId: $s, url: "{URL}", range: $r) {{
            topElements(selector: $sel{argument}) {{ selector }} }} }}"""
        found = data(await self.ask(query, r=RANGE, sel=selector))
        return {item["selector"] for item in found["heatmap"]["topElements"]}


async def consumers_of(
    client: httpx.AsyncClient, db: Database, email: str, events: dict[int, dict[str, Any]]
) -> Consumers:
    site = await new_site(client, email, domains=["shop.example"])
    increments = heatmaps.Increments()
    for node_id, fields in events.items():
        session = f"s{node_id}"
        key = session_key(site.id, session)
        base = {"site_id": site.id, "session_id": session, "visitor_id": f"v{node_id}"}
        await db["sessions"].insert_one(
            {**base, "_id": key, "started_at": T0, "last_activity_at": T0 + timedelta(seconds=1)}
        )
        ms = int(T0.timestamp() * 1000)
        view = event_document({"_id": f"{key}:pv", **base}, {"kind": "page_view", "url": URL}, ms)
        click = event_document({"_id": f"{key}:c", **base}, {"kind": "click", **fields}, ms + 500)
        await store_derived(db, [view, click])
        add_click(increments, {"_id": site.id}, "desktop", click)
    await heatmaps.apply(db, increments)
    return Consumers(client, site.token, site.id)


def _how(how: str | None) -> dict[str, str]:
    return {"selectorMatch": how} if how else {}


@pytest.mark.parametrize("legacy", [False, True], ids=["with paths", "stored before paths"])
async def test_every_consumer_matches_css_selectors(
    client: httpx.AsyncClient, db: Database, legacy: bool
) -> None:
    events = clicks(legacy)
    site = await consumers_of(client, db, f"owner-{legacy}@example.com", events)
    for selector, with_paths, without_paths in CSS_CASES:
        expected = without_paths if legacy else with_paths
        selectors = {events[node_id]["selector"] for node_id in expected}
        for how in ("CSS", None):  # None: the default, CSS
            assert await site.events(selector, how) == selectors, (selector, how)
            assert await site.funnel(selector, how) == len(expected), (selector, how)
            assert await site.heatmap(selector, how) == selectors, (selector, how)
    full = events[A]["selector"]  # "form#checkout.cart > button.add.primary"
    for selector, expected in ((full, {full}), ("button.add", set())):
        assert await site.events(selector, "EXACT") == expected, selector
        assert await site.funnel(selector, "EXACT") == len(expected), selector
        assert await site.heatmap(selector, "EXACT") == expected, selector


async def test_selectors_that_cannot_be_matched_are_bad_requests(
    client: httpx.AsyncClient, db: Database
) -> None:
    site = await consumers_of(client, db, "owner@example.com", clicks(legacy=False))
    for selector in ("button:hover", "[data-sku=mug]", "a ~ b", "button["):
        for ask in (
            "query($s: ID!) { events(siteId: $s, filter: {selector: %s}) { nodes { id } } }",
            'query($s: ID!, $r: TimeRange!) { heatmap(siteId: $s, url: "/cart", range: $r) '
            "{ topElements(selector: %s) { selector } } }",
        ):
            body = await site.ask(ask % gql_string(selector), r=RANGE)
            assert error_code(body) == "BAD_REQUEST", (selector, body)
        steps = [{"type": "PAGE_VIEW"}, {"type": "CLICK", "selector": selector}]
        body = await site.ask(
            "query($s: ID!, $d: FunnelDefinitionInput!, $r: TimeRange!) { funnelResult("
            "siteId: $s, definition: $d, range: $r) { totalUnits } }",
            d={"steps": steps},
            r=RANGE,
        )
        assert error_code(body) == "BAD_REQUEST", (selector, body)


def gql_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
