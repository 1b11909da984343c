"""Sending recordings to `POST /ingest` the way the snippet does."""

import gzip
import json
from pathlib import Path
from typing import Any

import httpx

DATA = Path(__file__).parent / "data"
SHOP_ORIGIN = "http://127.0.0.1:37047"
SHOP_DOMAIN = "127.0.0.1:37047"
SHOP_URL = "http://127.0.0.1:37047/shop.html"
CHROME_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.8078.73 Safari/537.36"
)
TYPED_EMAIL = "jane@example.com"


def shop_events() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(
        (DATA / "recordings" / "shop-sample.json").read_text()
    )
    return events


def batches_of(events: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


def batch_body(
    key: str,
    events: list[dict[str, Any]],
    *,
    seq: int = 0,
    session_id: str = "session-0001",
    visitor_id: str = "visitor-0001",
    url: str = SHOP_URL,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "key": key,
        "visitor_id": visitor_id,
        "session_id": session_id,
        "seq": seq,
        "page": {"url": url, "title": "Acme Shop"},
        "events": events,
        **extra,
    }


async def post_batch(
    client: httpx.AsyncClient,
    body: dict[str, Any] | bytes,
    *,
    origin: str | None = SHOP_ORIGIN,
    compress: bool = False,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json", "User-Agent": CHROME_UA}
    if origin:
        all_headers["Origin"] = origin
    if compress:
        raw = gzip.compress(raw)
        all_headers["Content-Encoding"] = "gzip"
    all_headers.update(headers or {})
    return await client.post("/ingest", content=raw, headers=all_headers)


async def send_recording(
    client: httpx.AsyncClient,
    key: str,
    events: list[dict[str, Any]],
    *,
    batch_size: int = 20,
    session_id: str = "session-0001",
    visitor_id: str = "visitor-0001",
) -> None:
    for seq, batch in enumerate(batches_of(events, batch_size)):
        body = batch_body(key, batch, seq=seq, session_id=session_id, visitor_id=visitor_id)
        response = await post_batch(client, body, compress=seq % 2 == 1)
        assert response.status_code == 200, response.text
