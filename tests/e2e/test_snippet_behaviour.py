"""What the snippet does in the browser, seen from the requests it makes.

A probe page embeds the snippet (served by the real API) with the options under test; its
batches to `POST /ingest` are answered by the test itself (Playwright routing), which keeps
them and answers as told: so masking can be checked before the server masks again, and
retries without a failing server.
"""

import gzip
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, Page, Route

from scripts.demo_site import DemoSite
from tests.e2e.conftest import ApiServer

pytestmark = pytest.mark.e2e

KEY = "slk_probe"
PROBE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Probe</title>
<script src="{{SIGHTLINE_API}}/sightline.js" data-key="{{SIGHTLINE_KEY}}" data-flush-ms="60000"
  OPTIONS></script></head>
<body>
  <p class="secret">Balance 1234.56</p>
  <div class="widget"><p>Chat with Ada</p></div>
  <label for="email">Email</label><input id="email" type="email">
  <input id="password" type="password">
  <button id="ok" type="button">OK</button>
</body></html>"""
TYPED_EMAIL = "probe.person@mail.test"
TYPED_PASSWORD = "hunter2hunter2"


@dataclass
class Batch:
    body: dict[str, Any]
    text: str
    gzip: bool
    at: float


@dataclass
class Ingest:
    """Answers POST /ingest with the statuses in `answers` (then 200), keeping each batch."""

    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)

    async def handle(self, route: Route) -> None:
        request = route.request
        raw = request.post_data_buffer or b""
        compressed = (await request.header_value("content-encoding")) == "gzip"
        text = (gzip.decompress(raw) if compressed else raw).decode()
        self.batches.append(Batch(json.loads(text), text, compressed, time.monotonic()))
        status, headers = self.answers.pop(0) if self.answers else (200, {})
        cors = {
            "Access-Control-Allow-Origin": await request.header_value("origin") or "*",
            "Access-Control-Expose-Headers": "Retry-After",
        }
        body = {"status": "stored"} if status == 200 else {"status": status}
        await route.fulfill(status=status, json=body, headers={**cors, **headers})

    def seqs(self) -> list[int]:
        return [batch.body["seq"] for batch in self.batches]

    def events(self) -> Iterator[dict[str, Any]]:
        for batch in self.batches:
            yield from batch.body["events"]


@pytest_asyncio.fixture
async def open_probe(
    api_server: ApiServer, chromium: BrowserContext, tmp_path: Path
) -> AsyncIterator[Callable[..., Any]]:
    """`await open_probe('data-mask=".secret"')`: a new page of the probe with those options."""
    sites: list[DemoSite] = []

    async def open_page(options: str = "", init_script: str | None = None) -> tuple[Page, Ingest]:
        directory = tmp_path / f"probe-{len(sites)}"
        directory.mkdir()
        (directory / "index.html").write_text(PROBE.replace("OPTIONS", options))
        (directory / "plain.html").write_text("<!doctype html><title>No snippet</title>")
        site = DemoSite(api_server.url, KEY, directory=directory).start()
        sites.append(site)
        ingest = Ingest()
        page = await chromium.new_page()
        if init_script:
            await page.add_init_script(init_script)
        await page.route(f"{api_server.url}/ingest*", ingest.handle)
        await page.goto(f"{site.url}/")
        return page, ingest

    yield open_page
    for site in sites:
        site.stop()


async def _recording(page: Page) -> None:
    await page.wait_for_function("() => sightline.state().recording")


async def _type_and_flush(page: Page) -> None:
    await page.click("#email")
    await page.keyboard.type(TYPED_EMAIL)
    await page.click("#password")
    await page.keyboard.type(TYPED_PASSWORD)
    await page.click("#ok")
    assert await page.evaluate("sightline.flush()") is True


async def test_inputs_are_masked_and_selectors_masked_or_blocked_in_the_browser(
    open_probe: Callable[..., Any],
) -> None:
    page, ingest = await open_probe('data-mask=".secret" data-block=".widget"')
    await _recording(page)
    await _type_and_flush(page)
    sent = "\n".join(batch.text for batch in ingest.batches)
    for secret in (TYPED_EMAIL, TYPED_PASSWORD, "1234.56", "Chat with Ada"):
        assert secret not in sent
    assert "*" * len(TYPED_EMAIL) in sent
    assert "rr_width" in sent  # the blocked widget, as a placeholder of its size
    assert all(batch.gzip for batch in ingest.batches)  # Chromium has CompressionStream
    assert ingest.seqs() == list(range(len(ingest.batches)))
    batch = ingest.batches[0].body
    assert batch["key"] == KEY
    assert batch["page"]["url"].endswith("/")
    assert batch["page"]["title"] == "Probe"
    [height] = [e["data"]["payload"] for e in ingest.events() if _tag(e) == "sightline.page"]
    assert height["scrollHeight"] == await page.evaluate("document.documentElement.scrollHeight")


async def test_record_inputs_keeps_what_is_typed_but_never_passwords(
    open_probe: Callable[..., Any],
) -> None:
    page, ingest = await open_probe('data-record-inputs="true"')
    await _recording(page)
    await _type_and_flush(page)
    sent = "\n".join(batch.text for batch in ingest.batches)
    assert TYPED_EMAIL in sent
    assert TYPED_PASSWORD not in sent
    assert "Balance 1234.56" in sent


def _tag(event: dict[str, Any]) -> str | None:
    data = event.get("data") or {}
    return data.get("tag") if event["type"] == 5 else None


async def test_server_errors_and_429_are_retried_with_backoff_other_4xx_never(
    open_probe: Callable[..., Any],
) -> None:
    page, ingest = await open_probe()
    ingest.answers = [(503, {}), (503, {}), (429, {"Retry-After": "1"})]
    await _recording(page)
    assert await page.evaluate("sightline.flush()") is True
    tries = ingest.batches
    assert len(tries) == 4
    assert len({batch.text for batch in tries}) == 1  # the same batch, seq 0, four times
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(tries)]
    assert 0.45 <= gaps[0] <= 1.5  # 1 s, less up to half of it as jitter
    assert 0.95 <= gaps[1] <= 2.5  # 2 s, the same
    assert 0.95 <= gaps[2] <= 1.9  # Retry-After: 1 (the backoff would be 2 to 4 s)

    ingest.answers = [(400, {})]
    await page.evaluate("sightline.track('dropped')")
    await page.evaluate("sightline.flush()")
    await page.evaluate("sightline.track('kept')")
    assert await page.evaluate("sightline.flush()") is True
    assert ingest.seqs() == [0, 0, 0, 0, 1, 2]
    names = [[c["name"] for c in batch.body["custom"]] for batch in ingest.batches[4:]]
    assert names == [["dropped"], ["kept"]]


@pytest.mark.parametrize(
    "signal",
    [
        "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})",
        "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})",
    ],
    ids=["do-not-track", "global-privacy-control"],
)
async def test_do_not_track_and_global_privacy_control_are_honored(
    open_probe: Callable[..., Any], signal: str
) -> None:
    page, ingest = await open_probe(init_script=signal)
    await page.click("#ok")
    await page.evaluate("sightline.track('ignored')")
    assert await page.evaluate("sightline.flush()") is True
    assert await page.evaluate("sightline.state().recording") is False
    assert await page.evaluate("typeof window.rrweb") == "undefined"
    assert await page.evaluate("Object.keys(localStorage).length") == 0
    assert ingest.batches == []

    page, ingest = await open_probe('data-respect-dnt="false"', init_script=signal)
    await _recording(page)
    assert await page.evaluate("sightline.flush()") is True
    assert ingest.batches


async def test_a_session_lasts_until_30_idle_minutes_or_12_hours(
    open_probe: Callable[..., Any],
) -> None:
    page, ingest = await open_probe()
    await _recording(page)
    first = await page.evaluate("sightline.state()")
    assert first["sessionId"].startswith("s-")
    assert first["visitorId"].startswith("v-")

    await page.reload()
    await _recording(page)
    again = await page.evaluate("sightline.state()")
    assert again["sessionId"] == first["sessionId"]
    assert again["nextSeq"] > 0  # numbering goes on across page loads

    # The stored session as if the last interaction, or the start, were that long ago (changed
    # on a page without the snippet, which would store its own state when the page is left).
    for stale, ago_ms in (("last", 31 * 60 * 1000), ("start", 12 * 3600 * 1000)):
        await page.goto(page.url + "plain.html")
        await page.evaluate(
            """([stale, ago]) => {
              const session = JSON.parse(sessionStorage['sightline:session']);
              session[stale] = Date.now() - ago;
              sessionStorage['sightline:session'] = JSON.stringify(session);
            }""",
            [stale, ago_ms],
        )
        await page.goto(page.url.removesuffix("plain.html"))
        await _recording(page)
        state = await page.evaluate("sightline.state()")
        assert state["sessionId"] != again["sessionId"], stale
        assert state["visitorId"] == first["visitorId"]
        again = state
    assert await page.evaluate("sightline.flush()") is True
    assert {batch.body["session_id"] for batch in ingest.batches} == {again["sessionId"]}
    assert ingest.seqs()[0] == 0  # a new session numbers its batches from 0


async def test_single_page_navigations_are_reported_once_per_url(
    open_probe: Callable[..., Any],
) -> None:
    page, ingest = await open_probe()
    await _recording(page)
    await page.evaluate("history.pushState({}, '', '/pricing')")
    await page.evaluate("history.replaceState({}, '', '/pricing')")  # the same URL
    await page.evaluate("location.hash = 'plans'")
    await page.go_back()
    await page.wait_for_function("() => location.hash === ''")
    assert await page.evaluate("sightline.flush()") is True
    hrefs = [
        e["data"]["payload"]["href"] for e in ingest.events() if _tag(e) == "sightline.navigation"
    ]
    origin = hrefs[0].removesuffix("/pricing")
    assert hrefs == [f"{origin}/pricing", f"{origin}/pricing#plans", f"{origin}/pricing"]
