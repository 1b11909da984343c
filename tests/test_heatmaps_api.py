import io
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from PIL import Image
from redis.asyncio import Redis
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext as ExecutionContext

from core.config import Settings
from core.heatmap_png import PAD_ROWS
from core.heatmaps import normalize_page
from graph.int_arrays import IntArray, int_array
from storage import heatmaps
from storage.database import Database
from storage.heatmap_reads import read_heatmap
from tests.accounts_helpers import create_site, data, sign_up
from tests.graphql_client import gql
from tests.ingest_helpers import shop_events
from tests.recording_helpers import run_job, shop_session
from tests.workers_helpers import run_worker_burst
from workers import processing
from workers.heatmap_rollup import add_click
from workers.queue import Job

PAGE = "http://127.0.0.1:37047/shop.html"
DAY = datetime(2026, 11, 28, tzinfo=UTC)
RANGE = '{start: "2026-11-28T00:00:00Z", end: "2026-11-30T00:00:00Z"}'
HEATMAP = (
    'query($s: ID!, $k: HeatmapKind) { heatmap(siteId: $s, url: "' + PAGE + '", kind: $k, '
    f"range: {RANGE}) {{ page viewportBand bands columns rows cellPx total maxCount cells "
    "views scrollReach topElements { selector count share } } }"
)


async def _heatmap(
    client: httpx.AsyncClient, token: str, site_id: str, kind: str = "CLICK"
) -> dict[str, Any]:
    result: dict[str, Any] = data(
        await gql(client, HEATMAP, {"s": site_id, "k": kind}, token=token)
    )["heatmap"]
    return result


def _cells(heatmap: dict[str, Any]) -> dict[tuple[int, int], int]:
    flat = heatmap["cells"]
    return {(flat[i], flat[i + 1]): flat[i + 2] for i in range(0, len(flat), 3)}


async def test_clicks_of_the_real_recording_land_in_their_cells(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    site = await shop_session(client)
    await run_worker_burst(settings)
    heatmap = await _heatmap(client, site.token, site.id)
    clicks = await db["events"].count_documents({"kind": "click"})
    assert heatmap["page"] == "127.0.0.1:37047/shop.html"
    assert heatmap["viewportBand"] == 1280
    assert heatmap["total"] == clicks
    cells = _cells(heatmap)
    # The promo banner was clicked four times at (640, 96): column 32, row 96 / 20 = 4.
    assert cells[(32, 4)] == 4
    assert heatmap["maxCount"] == 4
    top = heatmap["topElements"][0]
    assert top["selector"] == "div#promo.banner"
    assert top["count"] == 4
    assert abs(top["share"] - 4 / clicks) < 0.001

    moves = await _heatmap(client, site.token, site.id, "MOVE")
    assert moves["total"] > 0


def _with_page_height(height: int) -> list[dict[str, Any]]:
    """The shop recording plus the page-height report the snippet sends after loading."""
    events = shop_events()
    report = {
        "type": 5,
        "data": {"tag": "sightline.page", "payload": {"scrollHeight": height, "href": PAGE}},
        "timestamp": events[1]["timestamp"],
    }
    return [*events[:2], report, *events[2:]]


async def test_a_heatmap_reads_the_same_before_and_after_compaction(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    site = await shop_session(client, events=_with_page_height(3000))
    await run_worker_burst(settings)
    before = {kind: await _heatmap(client, site.token, site.id, kind) for kind in ("CLICK", "MOVE")}
    await processing.process_session(db, site.id, "session-0001", from_start=True)
    await run_job(settings, redis, Job.COMPACT_SESSION, site.id, "session-0001")
    assert (await db["recording_chunks"].count_documents({})) == 0
    for kind, heatmap in before.items():
        assert await _heatmap(client, site.token, site.id, kind) == heatmap, kind
    scroll = await _heatmap(client, site.token, site.id, "SCROLL")
    assert scroll["views"] == 1
    [depth] = [e["depth_px"] async for e in db["events"].find({"kind": "scroll"})]
    reached = int(depth / 3000 * 20)  # the deepest 5 % step reached
    assert scroll["scrollReach"][: reached + 1] == [1.0] * (reached + 1)
    assert scroll["scrollReach"][reached + 1 :] == [0.0] * (19 - reached)


async def test_png_overlay_shows_the_hot_spot(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    site = await shop_session(client)
    await run_worker_burst(settings)
    url = f"/heatmaps/{site.id}.png?url={PAGE}&kind=click&width=1280&from=2026-11-28&to=2026-11-30"
    response = await client.get(url, headers={"Authorization": f"Bearer {site.token}"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    heatmap = await _heatmap(client, site.token, site.id)
    assert image.size == (1280, round((heatmap["rows"] + PAD_ROWS) * heatmap["cellPx"]))
    alpha = image.getchannel("A")
    hottest = max(
        (alpha.getpixel((x, y)), (x, y))
        for x in range(0, 1280, 4)
        for y in range(0, image.size[1], 4)
    )
    x, y = hottest[1]
    assert 620 <= x <= 660, hottest
    assert 80 <= y <= 120, hottest
    assert alpha.getpixel((5, image.size[1] - 5)) == 0


async def test_png_needs_credentials_and_ownership(
    client: httpx.AsyncClient, settings: Settings, redis: Redis
) -> None:
    site = await shop_session(client)
    url = f"/heatmaps/{site.id}.png?url={PAGE}"
    assert (await client.get(url)).status_code == 401
    stranger = await sign_up(client, "stranger@example.com")
    assert (
        await client.get(url, headers={"Authorization": f"Bearer {stranger}"})
    ).status_code == 404
    bad = await client.get(url + "&kind=scroll", headers={"Authorization": f"Bearer {site.token}"})
    assert bad.status_code == 400


async def test_a_full_grid_is_answered_whole_not_one_graphql_completion_per_integer(
    client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # graphql-core completes lists item by item; for the tens of thousands of integers of a
    # busy page's `cells` that cost several times the storage read (graph.int_arrays).
    token = await sign_up(client, "grid@example.com")
    site = await create_site(client, token, domains=["127.0.0.1"])
    rng = random.Random(2)
    inc = heatmaps.Increments()
    for _ in range(3000):
        x, y = rng.uniform(0, 1280), rng.uniform(0, 2000)
        event = {"url": PAGE, "x": x, "y": y, "viewport_width": 1280, "at": DAY}
        add_click(inc, {"_id": site["id"]}, "desktop", event)
    await heatmaps.apply(db, inc)
    completed = 0
    usual = ExecutionContext.complete_list_item_value

    def counted(self: ExecutionContext, *args: Any) -> Any:
        nonlocal completed
        completed += 1
        return usual(self, *args)

    monkeypatch.setattr(ExecutionContext, "complete_list_item_value", counted)
    heatmap = await _heatmap(client, token, site["id"])
    page = normalize_page(PAGE)
    query = heatmaps.HeatmapQuery(site["id"], "click", page, None, DAY, DAY + timedelta(days=2))
    expected = (await read_heatmap(db, query, 1280)).grid
    assert _cells(heatmap) == expected.counts
    assert heatmap["total"] == expected.total == 3000
    assert completed < len(heatmap["cells"]) // 10


@pytest.mark.parametrize(
    "values", [[1, 2, 3], [], [2**31 - 1, -(2**31)], [2**31], [True, 1], [-(2**31) - 1]]
)
def test_only_valid_graphql_ints_skip_the_check_of_each_item(values: list[int]) -> None:
    packed = int_array(values)
    assert packed == values
    valid = all(type(v) is int and -(2**31) <= v < 2**31 for v in values)
    assert isinstance(packed, IntArray) == valid
