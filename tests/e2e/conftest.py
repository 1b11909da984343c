"""Real servers for a real browser: the API under uvicorn, the demo shop, and Debian's Chromium.

The API runs in a thread of its own (its own event loop, MongoDB and Redis clients) on a free
loopback port, backed by the test's database; the shop is `scripts.demo_site.DemoSite`.
Chromium is driven by Playwright from /usr/bin/chromium (`scripts/install-chromium.sh`);
Playwright never downloads a browser here.
"""

import asyncio
import os
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import uvicorn
from playwright.async_api import BrowserContext, async_playwright
from redis.asyncio import Redis

from core.config import Settings
from scripts.demo_site import DemoSite
from storage.database import Database
from tests.app_helpers import make_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
START_TIMEOUT_S = 20


class ApiServer:
    """`create_app(settings)` served by uvicorn from a background thread."""

    def __init__(self, settings: Settings) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        served = settings.model_copy(update={"SIGHTLINE_PUBLIC_URL": self.url})
        config = uvicorn.Config(make_app(served), log_config=None, access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    async def start(self) -> None:
        self._thread.start()
        for _ in range(START_TIMEOUT_S * 20):
            if self._server.started:
                return
            if not self._thread.is_alive():
                break
            await asyncio.sleep(0.05)
        raise RuntimeError("The API did not start under uvicorn.")

    async def stop(self) -> None:
        self._server.should_exit = True
        await asyncio.to_thread(self._thread.join, 10)
        self._socket.close()


@pytest_asyncio.fixture
async def api_server(settings: Settings, db: Database, redis: Redis) -> AsyncIterator[ApiServer]:
    server = ApiServer(settings)
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture
async def api(api_server: ApiServer) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the running API, for GraphQL."""
    async with httpx.AsyncClient(base_url=api_server.url, timeout=10) as client:
        yield client


@pytest.fixture
def demo_site(api_server: ApiServer) -> Iterator[DemoSite]:
    """The demo shop on a free port; the test sets its tracking key once the site exists."""
    site = DemoSite(api_server.url).start()
    yield site
    site.stop()


@pytest_asyncio.fixture
async def chromium(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    """Headless Chromium with a new, empty profile."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-chromium.sh (make browser).")
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
            locale="en-US",
            timezone_id="UTC",
        )
        context.set_default_timeout(10_000)
        try:
            yield context
        finally:
            await context.close()
