"""Funnels through the GraphQL API, against the real servers.

Most cases insert derived events and session documents directly, with answers worked out by
hand; the drop-off lists and the two-page case use recordings sent to `POST /ingest` and
processed by a worker, so their replay links have something to serve.
"""

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from core.config import Settings
from storage.database import Database
from storage.events import event_document
from storage.ids import session_key
from tests.accounts_helpers import create_key, create_site, data, error_code
from tests.conftest import serve
from tests.events_helpers import store_derived
from tests.graphql_client import gql
from tests.ingest_helpers import SHOP_ORIGIN, batch_body, post_batch, shop_events
from tests.ingest_helpers import send_recording as send_shop_recording
from tests.recording_helpers import shop_session
from tests.workers_helpers import run_worker_burst
from tests.world_fixtures import Site, new_site

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
RANGE = {"start": "2026-03-01T00:00:00Z", "end": "2026-03-09T00:00:00Z"}
SHOP_RANGE = {"start": "2026-11-28T00:00:00Z", "end": "2026-11-30T00:00:00Z"}
DEALS_URL = f"{SHOP_ORIGIN}/deals.html"
HOUR_MS = 3_600_000

STEP_FIELDS = (
    "index label entered conversionFromFirst conversionFromPrevious dropped "
    "medianMsFromPrevious p90MsFromPrevious"
)
RESULT_FIELDS = (
    f"totalUnits unit steps {{ {STEP_FIELDS} }} breakdown {{ value steps {{ entered }} }}"
)
RESULT = f"""
query($s: ID!, $d: FunnelDefinitionInput!, $r: TimeRange!, $u: FunnelUnit, $f: FunnelFilter,
      $b: FunnelBreakdownBy) {{
  funnelResult(siteId: $s, definition: $d, range: $r, unit: $u, filter: $f, breakdownBy: $b) {{
    {RESULT_FIELDS}
  }}
}}"""
DROPPED = """
query($s: ID!, $d: FunnelDefinitionInput!, $r: TimeRange!, $first: Int, $after: String) {
  funnelResult(siteId: $s, definition: $d, range: $r) {
    steps {
      entered
      droppedSessions(first: $first, after: $after) {
        totalCount
        nodes { sessionId unitId visitorId lastStepAt replayUrl }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}"""
FUNNEL_FIELDS = """id name conversionWindowMs createdAt updatedAt
  steps { type urlMatch { field op value } selector textContains name label maxMsFromPrevious
          exclusions { type name } }"""
CREATE = f"""
mutation($s: ID!, $n: String!, $d: FunnelDefinitionInput!) {{
  createFunnel(siteId: $s, name: $n, definition: $d) {{ {FUNNEL_FIELDS} }}
}}"""

Spec = tuple[int, str, dict[str, Any]]


# Building sessions with known answers.


def pv(ms: int, path: str) -> Spec:
    return ms, "page_view", {"url": f"https://shop.example{path}", "path": path}


def click(ms: int, selector: str, text: str | None = None) -> Spec:
    return ms, "click", {"selector": selector, **({"text": text} if text else {})}


def custom(ms: int, name: str) -> Spec:
    return ms, "custom", {"name": name}


def error(ms: int) -> Spec:
    return ms, "error", {"message": "x is not defined"}


def page(path: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "PAGE_VIEW",
        "urlMatch": {"field": "PATH", "op": "EQUALS", "value": path},
        **extra,
    }


def clicked(selector: str, **extra: Any) -> dict[str, Any]:
    return {"type": "CLICK", "selector": selector, **extra}


CHECKOUT = {"steps": [page("/product"), clicked("button.add"), page("/checkout")]}


def converts(start_ms: int = 0) -> list[Spec]:
    return [
        pv(start_ms, "/product"),
        click(start_ms + 10_000, "button.add"),
        pv(start_ms + 30_000, "/checkout"),
    ]


@dataclass
class Shop:
    client: httpx.AsyncClient
    db: Database
    token: str
    site_id: str

    async def session(
        self,
        session_id: str,
        specs: list[Spec],
        *,
        visitor_id: str | None = None,
        start: datetime = T0,
        device_type: str = "desktop",
        browser: str = "Chrome",
        country: str | None = "FR",
    ) -> None:
        """A processed session: its document, and its derived events at `start` + ms."""
        visitor = visitor_id or f"v-{session_id}"
        key = session_key(self.site_id, session_id)
        last = max((ms for ms, _, _ in specs), default=0)
        await self.db["sessions"].insert_one(
            {
                "_id": key,
                "site_id": self.site_id,
                "session_id": session_id,
                "visitor_id": visitor,
                "started_at": start,
                "last_activity_at": start + timedelta(milliseconds=last),
                "device_type": device_type,
                "browser": browser,
                "country": country,
            }
        )
        base_ms = int(start.timestamp() * 1000)
        base = {"site_id": self.site_id, "session_id": session_id, "visitor_id": visitor}
        documents = [
            event_document(
                {"_id": f"{key}:{kind}:{base_ms + ms}:{n}", **base},
                {"kind": kind, **fields},
                base_ms + ms,
            )
            for n, (ms, kind, fields) in enumerate(specs)
        ]
        await store_derived(self.db, documents)

    async def ask(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return await gql(self.client, query, {"s": self.site_id, **variables}, token=self.token)

    async def result(
        self,
        definition: dict[str, Any],
        *,
        unit: str | None = None,
        filter: dict[str, Any] | None = None,
        breakdown: str | None = None,
        range: dict[str, str] = RANGE,
    ) -> dict[str, Any]:
        variables = {"d": definition, "r": range, "u": unit, "f": filter, "b": breakdown}
        found: dict[str, Any] = data(await self.ask(RESULT, variables))["funnelResult"]
        return found

    async def error(self, definition: dict[str, Any], **variables: Any) -> str:
        body = await self.ask(RESULT, {"d": definition, "r": RANGE, **variables})
        assert error_code(body) == "BAD_REQUEST", body
        message: str = body["errors"][0]["message"]
        return message


@pytest_asyncio.fixture
async def shop(client: httpx.AsyncClient, db: Database) -> Shop:
    site = await new_site(client, domains=["shop.example"])
    return Shop(client, db, site.token, site.id)


def entered(result: dict[str, Any]) -> list[int]:
    return [step["entered"] for step in result["steps"]]


def breakdown(result: dict[str, Any]) -> dict[str, list[int]]:
    return {row["value"]: [s["entered"] for s in row["steps"]] for row in result["breakdown"]}


# Hand-built cases.


async def test_steps_count_in_order_within_the_window(shop: Shop) -> None:
    await shop.session("s-converts", converts())
    await shop.session(
        "s-reversed", [pv(0, "/checkout"), pv(1_000, "/product"), click(2_000, "button.add")]
    )
    await shop.session("s-late", [*converts()[:2], pv(25 * HOUR_MS, "/checkout")])
    await shop.session(
        "s-repeats",
        [
            pv(0, "/product"),
            pv(5_000, "/product"),
            click(20_000, "button.add"),
            click(25_000, "button.add"),
            pv(60_000, "/checkout"),
        ],
    )
    await shop.session("s-elsewhere", [click(0, "a.home")])

    result = await shop.result(CHECKOUT)
    assert result["totalUnits"] == 5
    assert result["unit"] == "SESSIONS"
    assert result["breakdown"] == []
    first, second, third = result["steps"]
    assert entered(result) == [4, 4, 2]
    assert [s["conversionFromFirst"] for s in result["steps"]] == [1.0, 1.0, 0.5]
    assert [s["conversionFromPrevious"] for s in result["steps"]] == [1.0, 1.0, 0.5]
    assert [s["dropped"] for s in result["steps"]] == [0, 0, 2]
    assert first["label"] == "page_view where path equals '/product'"
    assert (first["medianMsFromPrevious"], first["p90MsFromPrevious"]) == (None, None)
    # From the product page to the click: 10 s, 1 s, 10 s and (first visit) 20 s.
    assert second["medianMsFromPrevious"] == 10_000
    assert second["p90MsFromPrevious"] == pytest.approx(17_000)
    assert third["medianMsFromPrevious"] == 30_000
    assert third["p90MsFromPrevious"] == pytest.approx(38_000)

    at_the_limit = await shop.result({**CHECKOUT, "conversionWindowMs": 60_000})
    assert entered(at_the_limit) == [4, 4, 2]
    # One millisecond less: s-repeats still converts from its second product view (55 s).
    later_start = await shop.result({**CHECKOUT, "conversionWindowMs": 59_999})
    assert entered(later_start) == [4, 4, 2]
    assert entered(await shop.result({**CHECKOUT, "conversionWindowMs": 54_999})) == [4, 4, 1]


async def test_a_repeated_step_needs_as_many_events_and_counts_once(shop: Shop) -> None:
    await shop.session("s-once", [click(0, "button.add")])
    await shop.session("s-twice", [click(0, "button.add"), click(0, "button.add")])
    await shop.session("s-loop", [*converts(), *converts(60_000), *converts(120_000)])
    twice = {"steps": [clicked("button.add"), clicked("button.add")]}
    assert entered(await shop.result(twice)) == [3, 2]
    assert entered(await shop.result(CHECKOUT)) == [1, 1, 1]


async def test_visitors_convert_across_sessions_and_count_once(shop: Shop) -> None:
    await shop.session("a-1", converts()[:2], visitor_id="visitor-a")
    await shop.session(
        "a-2", [pv(0, "/checkout")], visitor_id="visitor-a", start=T0 + timedelta(hours=2)
    )
    await shop.session("b-1", converts(), visitor_id="visitor-b")
    await shop.session("b-2", converts(), visitor_id="visitor-b", start=T0 + timedelta(days=1))

    sessions = await shop.result(CHECKOUT, unit="SESSIONS")
    assert (sessions["totalUnits"], entered(sessions)) == (4, [3, 3, 2])
    visitors = await shop.result(CHECKOUT, unit="VISITORS")
    assert visitors["unit"] == "VISITORS"
    assert (visitors["totalUnits"], entered(visitors)) == (2, [2, 2, 2])
    # visitor-a took two hours from the click to the checkout, in their next session.
    gaps = [20_000, 2 * HOUR_MS - 10_000]
    assert visitors["steps"][2]["p90MsFromPrevious"] == pytest.approx(
        gaps[0] + 0.9 * (gaps[1] - gaps[0])
    )


async def test_breakdown_and_filters_by_session_properties(shop: Shop) -> None:
    mobile = {"device_type": "mobile", "browser": "Safari", "country": "US"}
    await shop.session("m-1", converts(), **mobile)
    await shop.session("m-2", converts()[:1], **mobile)
    await shop.session("d-1", converts(), device_type="desktop", browser="Chrome", country="FR")
    await shop.session(
        "d-2", converts()[:2], device_type="desktop", browser="Firefox", country=None
    )

    by_device = await shop.result(CHECKOUT, breakdown="DEVICE_TYPE")
    assert entered(by_device) == [4, 3, 2]
    assert breakdown(by_device) == {"desktop": [2, 2, 1], "mobile": [2, 1, 1]}
    assert [row["value"] for row in by_device["breakdown"]] == ["desktop", "mobile"]
    by_country = await shop.result(CHECKOUT, breakdown="COUNTRY")
    assert [row["value"] for row in by_country["breakdown"]] == ["(none)", "FR", "US"]
    assert breakdown(by_country)["(none)"] == [1, 1, 0]

    # A session the range query misses (no last activity recorded) is looked up on its own.
    m2 = session_key(shop.site_id, "m-2")
    await shop.db["sessions"].update_one({"_id": m2}, {"$unset": {"last_activity_at": ""}})
    only_mobile = await shop.result(CHECKOUT, filter={"deviceType": "mobile"})
    assert (only_mobile["totalUnits"], entered(only_mobile)) == (2, [2, 1, 1])
    only_chrome = await shop.result(CHECKOUT, filter={"browser": "Chrome"})
    assert (only_chrome["totalUnits"], entered(only_chrome)) == (1, [1, 1, 1])
    us_by_browser = await shop.result(CHECKOUT, filter={"country": "US"}, breakdown="BROWSER")
    assert breakdown(us_by_browser) == {"Safari": [2, 1, 1]}
    nobody = await shop.result(CHECKOUT, filter={"deviceType": "mobile", "country": "FR"})
    assert (nobody["totalUnits"], entered(nobody)) == (0, [0, 0, 0])
    assert [s["conversionFromFirst"] for s in nobody["steps"]] == [0.0, 0.0, 0.0]


async def test_matchers_step_maximums_and_exclusions(shop: Shop) -> None:
    definition = {
        "steps": [
            {
                "type": "PAGE_VIEW",
                "label": "Product page",
                "urlMatch": {"field": "URL", "op": "REGEX", "value": r"^https://shop\.example/pro"},
            },
            {"type": "CLICK", "textContains": "ADD to cart", "maxMsFromPrevious": 60_000},
            {"type": "CUSTOM", "name": "purchase", "exclusions": [{"type": "ERROR"}]},
        ]
    }
    add = "button.add"
    await shop.session(
        "x-ok", [pv(0, "/product"), click(30_000, add, "Add to cart"), custom(40_000, "purchase")]
    )
    await shop.session("x-slow", [pv(0, "/product"), click(61_000, add, "Add to cart")])
    await shop.session(
        "x-second-view",
        [
            pv(0, "/product"),
            pv(50_000, "/product"),
            click(100_000, add, "Add to cart"),
            custom(110_000, "purchase"),
        ],
    )
    await shop.session(
        "x-error",
        [
            pv(0, "/product"),
            click(10_000, add, "Add to cart"),
            error(15_000),
            custom(20_000, "purchase"),
        ],
    )
    await shop.session(
        "x-retry",
        [
            pv(0, "/product"),
            click(10_000, add, "Add to cart"),
            error(15_000),
            click(16_000, add, "Add to cart"),
            custom(20_000, "purchase"),
        ],
    )
    await shop.session("x-other-page", [pv(0, "/about"), custom(1_000, "purchase")])
    await shop.session("x-other-event", [pv(0, "/product"), custom(1_000, "signup")])

    result = await shop.result(definition)
    assert result["totalUnits"] == 7
    assert entered(result) == [6, 4, 3]
    labels = [step["label"] for step in result["steps"]]
    assert labels == ["Product page", "click where text contains 'ADD to cart'",
                      "custom where name 'purchase'"]  # fmt: skip


async def test_only_events_inside_the_range_count(shop: Shop) -> None:
    await shop.session("s-inside", converts())
    await shop.session("s-before", converts(), start=T0 - timedelta(days=3))
    await shop.session(
        "s-straddles", converts(), start=datetime(2026, 3, 8, 23, 59, 50, tzinfo=UTC)
    )
    result = await shop.result(CHECKOUT)
    assert (result["totalUnits"], entered(result)) == (2, [2, 1, 1])


async def test_validation_errors_name_the_problem(shop: Shop) -> None:
    product, add = page("/product"), clicked("button.add")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"steps": [product]}, "a funnel needs at least 2 steps, got 1"),
        ({"steps": [product] * 21}, "a funnel has at most 20 steps, got 21"),
        (
            {"steps": [product, add], "conversionWindowMs": 0},
            "conversion window must be between 1 ms and 90 days (7776000000 ms), got 0",
        ),
        (
            {"steps": [product, add], "conversionWindowMs": 7_776_000_001},
            "conversion window must be between 1 ms and 90 days (7776000000 ms), got 7776000001",
        ),
        (
            {"steps": [product, add], "conversionWindowMs": 1.5},
            "conversionWindowMs must be a whole number of milliseconds.",
        ),
        (
            {"steps": [page("/product", maxMsFromPrevious=1000), add]},
            "step 1: max_ms_from_previous is not allowed, step 1 has no previous step",
        ),
        (
            {"steps": [page("/product", exclusions=[{"type": "ERROR"}]), add]},
            "step 1: exclusions are not allowed, step 1 has no previous step",
        ),
        ({"steps": [product, clicked("")]}, "step 2: selector must not be empty"),
    ]
    for definition, message in cases:
        assert await shop.error(definition) == message
    regex = {"type": "PAGE_VIEW", "urlMatch": {"field": "PATH", "op": "REGEX", "value": "("}}
    assert (await shop.error({"steps": [product, regex]})).startswith(
        "step 2: path regex '(' is invalid: "
    )
    backwards = {"start": RANGE["end"], "end": RANGE["start"]}
    assert await shop.error(CHECKOUT, r=backwards) == "The range must end after it starts."
    too_long = {"start": "2025-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"}
    assert await shop.error(CHECKOUT, r=too_long) == "A range can span at most 400 days."

    bad_page = await shop.ask(DROPPED, {"d": CHECKOUT, "r": RANGE, "first": 101})
    assert bad_page["errors"][0]["message"] == "`first` must be between 1 and 100."
    bad_cursor = await shop.ask(DROPPED, {"d": CHECKOUT, "r": RANGE, "after": "nonsense"})
    assert bad_cursor["errors"][0]["message"].startswith("The cursor is not valid")

    for name, message in [("  ", "The name must have 1 to 200 characters.")]:
        body = await shop.ask(CREATE, {"n": name, "d": CHECKOUT})
        assert body["errors"][0]["message"] == message
    body = await shop.ask(CREATE, {"n": "One step", "d": {"steps": [product]}})
    assert body["errors"][0]["message"] == "a funnel needs at least 2 steps, got 1"
    assert await shop.db["funnels"].count_documents({}) == 0


async def test_results_per_request_are_bounded(shop: Shop) -> None:
    aliases = " ".join(
        f"r{n}: funnelResult(siteId: $s, definition: $d, range: $r) {{ totalUnits }}"
        for n in range(6)
    )
    query = f"query($s: ID!, $d: FunnelDefinitionInput!, $r: TimeRange!) {{ {aliases} }}"
    body = await shop.ask(query, {"d": CHECKOUT, "r": RANGE})
    assert [e["message"] for e in body["errors"]] == ["At most 5 funnel results per request."]


async def test_a_computation_over_its_time_budget_stops_with_a_message(
    settings: Settings, db: Database, redis: Redis
) -> None:
    # A budget spent before it starts (below what the setting accepts: model_copy does not
    # validate), so the answer never depends on how fast the machine is.
    spent = settings.model_copy(update={"SIGHTLINE_FUNNEL_COMPUTE_BUDGET_S": 0.0})
    async with serve(spent) as client:
        site = await new_site(client)
        shop = Shop(client, db, site.token, site.id)
        await shop.session("s-converts", converts())
        body = await shop.ask(RESULT, {"d": CHECKOUT, "r": RANGE})
    assert error_code(body) == "QUERY_TIMEOUT"
    assert body["errors"][0]["message"] == (
        "The funnel took too long to compute; narrow the range or add filters."
    )


# Saved funnels.


async def test_saved_funnels_can_be_created_listed_changed_and_deleted(shop: Shop) -> None:
    await shop.session("s-converts", converts())
    await shop.session("s-stops", converts()[:1])
    definition = {
        "steps": [
            page("/product", label="Product"),
            clicked("button.add", maxMsFromPrevious=60_000),
            {**page("/checkout"), "exclusions": [{"type": "CUSTOM", "name": "abandon"}]},
        ],
        "conversionWindowMs": 7_776_000_000,
    }
    created = data(await shop.ask(CREATE, {"n": " Checkout ", "d": definition}))["createFunnel"]
    assert created["name"] == "Checkout"
    assert created["conversionWindowMs"] == 7_776_000_000
    assert created["steps"][0] == {
        "type": "PAGE_VIEW",
        "urlMatch": {"field": "PATH", "op": "EQUALS", "value": "/product"},
        "selector": None,
        "textContains": None,
        "name": None,
        "label": "Product",
        "maxMsFromPrevious": None,
        "exclusions": [],
    }
    assert created["steps"][1]["maxMsFromPrevious"] == 60_000
    assert created["steps"][2]["exclusions"] == [{"type": "CUSTOM", "name": "abandon"}]
    funnel_id = created["id"]

    listed = data(await shop.ask("query($s: ID!) { funnels(siteId: $s) { id name } }", {}))
    assert listed["funnels"] == [{"id": funnel_id, "name": "Checkout"}]
    saved_result = f"""query($id: ID!, $r: TimeRange!) {{
      funnel(id: $id) {{ name result(range: $r) {{ {RESULT_FIELDS} }} }} }}"""
    saved = data(await shop.ask(saved_result, {"id": funnel_id, "r": RANGE}))["funnel"]
    assert saved["result"] == await shop.result(definition)
    assert entered(saved["result"]) == [2, 1, 1]

    rename = (
        "mutation($id: ID!, $n: String) "
        "{ updateFunnel(id: $id, name: $n) { name steps { label } } }"
    )
    renamed = data(await shop.ask(rename, {"id": funnel_id, "n": "Buying"}))["updateFunnel"]
    assert renamed == {
        "name": "Buying",
        "steps": [{"label": "Product"}, {"label": None}, {"label": None}],
    }
    redefine = f"""mutation($id: ID!, $d: FunnelDefinitionInput) {{
      updateFunnel(id: $id, definition: $d) {{ {FUNNEL_FIELDS} }} }}"""
    redefined = data(await shop.ask(redefine, {"id": funnel_id, "d": CHECKOUT}))["updateFunnel"]
    assert (redefined["name"], redefined["conversionWindowMs"]) == ("Buying", 86_400_000)
    assert [s["label"] for s in redefined["steps"]] == [None, None, None]
    assert redefined["updatedAt"] > created["updatedAt"]
    bad = await shop.ask(redefine, {"id": funnel_id, "d": {"steps": []}})
    assert bad["errors"][0]["message"] == "a funnel needs at least 2 steps, got 0"

    delete = "mutation($id: ID!) { deleteFunnel(id: $id) }"
    assert data(await shop.ask(delete, {"id": funnel_id})) == {"deleteFunnel": True}
    assert error_code(await shop.ask(delete, {"id": funnel_id})) == "NOT_FOUND"
    gone = await shop.ask("query($id: ID!) { funnel(id: $id) { id } }", {"id": funnel_id})
    assert gone["errors"][0]["message"] == "No such funnel."
    assert data(await shop.ask("query($s: ID!) { funnels(siteId: $s) { id } }", {})) == {
        "funnels": []
    }


async def test_api_keys_need_the_analytics_scopes(shop: Shop) -> None:
    key = await create_key(shop.client, shop.token, ["ANALYTICS_READ"], [shop.site_id])
    as_key = Shop(shop.client, shop.db, key["secret"], shop.site_id)
    assert (await as_key.result(CHECKOUT))["totalUnits"] == 0
    body = await as_key.ask(CREATE, {"n": "Checkout", "d": CHECKOUT})
    assert error_code(body) == "FORBIDDEN"
    other_site = await create_site(shop.client, shop.token, name="Blog", domains=["blog.example"])
    elsewhere = await gql(
        shop.client,
        RESULT,
        {"s": other_site["id"], "d": CHECKOUT, "r": RANGE},
        token=key["secret"],
    )
    assert error_code(elsewhere) == "NOT_FOUND"


async def test_deleting_the_site_deletes_its_funnels(
    shop: Shop, settings: Settings, redis: Redis
) -> None:
    data(await shop.ask(CREATE, {"n": "Checkout", "d": CHECKOUT}))
    assert await shop.db["funnels"].count_documents({}) == 1
    data(await shop.ask("mutation($s: ID!) { deleteSite(siteId: $s) { id } }", {}))
    await run_worker_burst(settings)
    assert await shop.db["funnels"].count_documents({}) == 0


# Real recordings.


def deals_page(after_ms: int) -> list[dict[str, Any]]:
    """What rrweb records when the visitor then loads the deals page: a Meta event and a full
    snapshot (the shop's own, for the test), 1 s after the recording ends."""
    meta, snapshot = copy.deepcopy(shop_events()[:2])
    meta["data"]["href"] = DEALS_URL
    meta["timestamp"] = after_ms + 1_000
    snapshot["timestamp"] = after_ms + 1_050
    return [meta, snapshot]


async def visit_deals(
    client: httpx.AsyncClient, key: str, seq: int, session_id: str, visitor_id: str
) -> int:
    """Send the deals page as the session's next batch; returns when it was loaded (epoch ms)."""
    events = deals_page(shop_events()[-1]["timestamp"])
    body = batch_body(
        key, events, seq=seq, session_id=session_id, visitor_id=visitor_id, url=DEALS_URL
    )
    response = await post_batch(client, body)
    assert response.status_code == 200, response.text
    timestamp: int = events[0]["timestamp"]
    return timestamp


SHOP_FUNNEL = {
    "steps": [
        page("/shop.html"),
        {"type": "CLICK", "textContains": "add to cart"},
        page("/deals.html"),
    ]
}


async def test_a_funnel_over_the_two_pages_of_a_real_recording(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    site = await shop_session(client)  # 8 batches, seq 0 to 7
    deals_at = await visit_deals(client, site.tracking_key, 8, "session-0001", "visitor-0001")
    await run_worker_burst(settings)
    shop = Shop(client, db, site.token, site.id)
    created = data(await shop.ask(CREATE, {"n": "Shop to deals", "d": SHOP_FUNNEL}))
    saved_result = f"""query($id: ID!, $r: TimeRange!, $u: FunnelUnit) {{
      funnel(id: $id) {{ result(range: $r, unit: $u) {{ {RESULT_FIELDS} }} }} }}"""
    for unit in ("SESSIONS", "VISITORS"):
        variables = {"id": created["createFunnel"]["id"], "r": SHOP_RANGE, "u": unit}
        result = data(await shop.ask(saved_result, variables))["funnel"]["result"]
        assert (result["totalUnits"], entered(result)) == (1, [1, 1, 1])
        first_view, add_to_cart = shop_events()[0]["timestamp"], 1795910773756
        assert result["steps"][1]["medianMsFromPrevious"] == add_to_cart - first_view
        assert result["steps"][2]["medianMsFromPrevious"] == deals_at - add_to_cart
    no_deals = {"steps": [page("/shop.html"), page("/cart.html")]}
    assert entered(await shop.result(no_deals, range=SHOP_RANGE)) == [1, 0]


async def test_dropped_sessions_page_by_keyset_with_replay_links(
    client: httpx.AsyncClient, site: Site, db: Database, settings: Settings, redis: Redis
) -> None:
    key = site.tracking_key
    for name in ("session-conv", "session-bbbb", "session-aaaa"):
        visitor = name.replace("session", "visitor")
        await send_shop_recording(client, key, shop_events(), session_id=name, visitor_id=visitor)
    await visit_deals(client, key, 4, "session-conv", "visitor-conv")  # after 4 batches of 20
    await run_worker_burst(settings)
    shop = Shop(client, db, site.token, site.id)

    variables: dict[str, Any] = {"d": SHOP_FUNNEL, "r": SHOP_RANGE, "first": 1}
    steps = data(await shop.ask(DROPPED, variables))["funnelResult"]["steps"]
    assert [step["entered"] for step in steps] == [3, 3, 1]
    assert [step["droppedSessions"]["totalCount"] for step in steps] == [0, 0, 2]
    assert steps[1]["droppedSessions"]["nodes"] == []
    first_page = steps[2]["droppedSessions"]
    assert first_page["pageInfo"]["hasNextPage"] is True
    variables["after"] = first_page["pageInfo"]["endCursor"]
    steps = data(await shop.ask(DROPPED, variables))["funnelResult"]["steps"]
    second_page = steps[2]["droppedSessions"]
    assert second_page["pageInfo"]["hasNextPage"] is False
    nodes = [*first_page["nodes"], *second_page["nodes"]]
    # Same last-step time (the same recording): ordered by unit id.
    assert [(n["sessionId"], n["unitId"], n["visitorId"]) for n in nodes] == [
        ("session-aaaa", "session-aaaa", "visitor-aaaa"),
        ("session-bbbb", "session-bbbb", "visitor-bbbb"),
    ]
    assert {n["lastStepAt"] for n in nodes} == {"2026-11-29T00:06:13.756000+00:00"}
    for node in nodes:
        assert node["replayUrl"].startswith("http://sightline.test/replay/")
        response = await client.get(node["replayUrl"].removeprefix("http://sightline.test"))
        assert response.status_code == 200, response.text
        assert len(response.json()) == len(shop_events())

    by_visitor = {**variables, "first": 5}
    by_visitor.pop("after")
    query = DROPPED.replace("range: $r)", "range: $r, unit: VISITORS)")
    steps = data(await shop.ask(query, by_visitor))["funnelResult"]["steps"]
    assert [n["unitId"] for n in steps[2]["droppedSessions"]["nodes"]] == [
        "visitor-aaaa",
        "visitor-bbbb",
    ]
