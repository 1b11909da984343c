import gzip
import json
import zlib
from typing import Any

import httpx
import pytest

from core import codec
from core.config import Settings
from core.rrweb.privacy import PrivacyPolicy, PrivacyState, apply_privacy
from storage.database import Database
from tests.accounts_helpers import data
from tests.conftest import serve
from tests.graphql_client import gql
from tests.ingest_helpers import (
    SHOP_ORIGIN,
    TYPED_EMAIL,
    batch_body,
    post_batch,
    shop_events,
)
from tests.world_fixtures import IngestRecording, Site, new_site

SESSION_QUERY = """
query($site: ID!) {
  sessions(siteId: $site) {
    nodes { id sessionId visitorId pageCount eventCount entryUrl browser deviceType country
            viewport { width height } pages { url path } replayUrl }
  }
}"""


async def _everything_stored(db: Database) -> str:
    """Every document of every collection, with recording blobs decompressed."""
    parts = []
    for name in await db.list_collection_names():
        async for doc in db[name].find({}):
            if "data" in doc and isinstance(doc["data"], bytes):
                parts.append(json.dumps(codec.decode_events(bytes(doc["data"]))))
                doc = {k: v for k, v in doc.items() if k != "data"}
            parts.append(str(doc))
    return "\n".join(parts)


async def _recording_counts(db: Database) -> dict[str, int]:
    return {
        name: await db[name].count_documents({})
        for name in ("recording_chunks", "sessions", "visitors")
    }


async def test_recording_comes_back_from_replay_event_for_event(
    client: httpx.AsyncClient, site: Site, ingest_recording: IngestRecording
) -> None:
    events = shop_events()
    await ingest_recording(site, events=events, batch_size=15)

    found = data(await gql(client, SESSION_QUERY, {"site": site.id}, token=site.token))
    [session] = found["sessions"]["nodes"]
    assert session["sessionId"] == "session-0001"
    assert session["eventCount"] == len(events)
    assert session["pageCount"] == 1
    assert session["entryUrl"] == "http://127.0.0.1:37047/shop.html"
    assert session["pages"] == [{"url": "http://127.0.0.1:37047/shop.html", "path": "/shop.html"}]
    assert session["viewport"] == {"width": 1280, "height": 800}
    assert session["browser"] == "Chrome"
    assert session["deviceType"] == "desktop"

    response = await client.get(session["replayUrl"].removeprefix("http://sightline.test"))
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    expected = apply_privacy(events, PrivacyPolicy(), PrivacyState())
    assert response.json() == expected
    assert TYPED_EMAIL not in response.text


async def test_replay_link_must_be_signed_and_fresh(
    client: httpx.AsyncClient, site: Site, ingest_recording: IngestRecording
) -> None:
    await ingest_recording(site, events=shop_events()[:5])
    found = data(await gql(client, SESSION_QUERY, {"site": site.id}, token=site.token))
    url = found["sessions"]["nodes"][0]["replayUrl"].removeprefix("http://sightline.test")
    forged = url[:-4] + "0000"
    assert (await client.get(forged)).status_code == 403
    expired = url.split("?")[0] + "?expires=1000&signature=" + url.split("signature=")[1]
    assert (await client.get(expired)).status_code == 403


async def test_a_batch_sent_twice_is_stored_once(
    client: httpx.AsyncClient, site: Site, db: Database
) -> None:
    body = batch_body(site.tracking_key, shop_events()[:10])
    first = await post_batch(client, body)
    second = await post_batch(client, body, compress=True)
    assert first.json() == {"status": "stored"}
    assert second.json() == {"status": "duplicate"}
    assert await db["recording_chunks"].count_documents({}) == 1
    session = await db["sessions"].find_one({})
    assert session is not None
    assert session["event_count"] == 10


async def test_default_settings_keep_the_typed_email_out_of_storage(
    client: httpx.AsyncClient, site: Site, ingest_recording: IngestRecording, db: Database
) -> None:
    await ingest_recording(site)
    stored = await _everything_stored(db)
    assert "jane@" not in stored
    assert "example.com" not in stored.replace("owner@example.com", "")


async def test_record_inputs_keeps_the_typed_email(
    client: httpx.AsyncClient, site: Site, ingest_recording: IngestRecording, db: Database
) -> None:
    mutation = (
        "mutation($id: ID!) { updateSite(id: $id, changes: {recordInputs: true}) { recordInputs } }"
    )
    assert data(await gql(client, mutation, {"id": site.id}, token=site.token)) == {
        "updateSite": {"recordInputs": True}
    }
    await ingest_recording(site)
    assert TYPED_EMAIL in await _everything_stored(db)


@pytest.mark.parametrize("header", ["DNT", "Sec-GPC"])
async def test_do_not_track_is_honored(
    client: httpx.AsyncClient, site: Site, db: Database, header: str
) -> None:
    body = batch_body(site.tracking_key, shop_events()[:5])
    response = await post_batch(client, body, headers={header: "1"})
    assert response.status_code == 200
    assert response.json() == {"status": "ignored", "reason": "do_not_track"}
    assert await _recording_counts(db) == {"recording_chunks": 0, "sessions": 0, "visitors": 0}

    mutation = (
        "mutation($id: ID!) { updateSite(id: $id, changes: {respectDoNotTrack: false}) { id } }"
    )
    data(await gql(client, mutation, {"id": site.id}, token=site.token))
    assert (await post_batch(client, body, headers={header: "1"})).json() == {"status": "stored"}


def _bomb() -> bytes:
    return gzip.compress(b"[" + b" " * (40 * 2**20) + b"]")


BAD_INPUTS: list[tuple[str, Any, dict[str, Any], int, str]] = [
    ("not json", b"{not json", {}, 400, "invalid_json"),
    ("array body", b"[]", {}, 400, "invalid_batch"),
    ("missing events", "drop:events", {}, 400, "invalid_batch"),
    ("empty events", {"events": []}, {}, 400, "invalid_batch"),
    ("bad session id", {"session_id": "../../etc"}, {}, 400, "invalid_batch"),
    ("event without timestamp", {"events": [{"type": 4, "data": {}}]}, {}, 400, "invalid_batch"),
    (
        "event type not a number",
        {"events": [{"type": "x", "data": {}, "timestamp": 1795910773345}]},
        {},
        400,
        "invalid_batch",
    ),
    (
        "timestamp in year 1970",
        {"events": [{"type": 4, "data": {}, "timestamp": 5}]},
        {},
        400,
        "invalid_batch",
    ),
    ("negative seq", {"seq": -1}, {}, 400, "invalid_batch"),
    ("unknown field", {"surprise": 1}, {}, 400, "invalid_batch"),
    (
        "truncated gzip",
        gzip.compress(b'{"a": 1}')[:-6],
        {"Content-Encoding": "gzip"},
        400,
        "bad_encoding",
    ),
    ("unsupported encoding", b"{}", {"Content-Encoding": "br"}, 400, "bad_encoding"),
    ("gzip bomb", "bomb", {"Content-Encoding": "gzip"}, 413, "payload_too_large"),
    ("too large", b"{" + b" " * (6 * 2**20) + b"}", {}, 413, "payload_too_large"),
    ("unknown key", {"key": "slk_unknown"}, {}, 401, "unknown_tracking_key"),
    ("foreign origin", {}, {"Origin": "https://evil.example"}, 403, "origin_not_allowed"),
]


@pytest.mark.parametrize(
    ("case", "change", "headers", "status", "code"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
async def test_bad_input_gets_its_status_and_writes_nothing(
    client: httpx.AsyncClient,
    site: Site,
    db: Database,
    case: str,
    change: Any,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    body: dict[str, Any] | bytes = batch_body(site.tracking_key, shop_events()[:5])
    if change == "bomb":
        body = _bomb()
    elif isinstance(change, bytes):
        body = change
    elif change == "drop:events":
        assert isinstance(body, dict)
        body.pop("events")
    else:
        assert isinstance(body, dict)
        body.update(change)
    origin = headers.pop("Origin", SHOP_ORIGIN)
    response = await post_batch(client, body, origin=origin, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert await _recording_counts(db) == {"recording_chunks": 0, "sessions": 0, "visitors": 0}


async def test_a_rotated_key_is_refused(
    client: httpx.AsyncClient, site: Site, db: Database
) -> None:
    rotate = "mutation($id: ID!) { rotateTrackingKey(siteId: $id) { trackingKey } }"
    new_key = data(await gql(client, rotate, {"id": site.id}, token=site.token))[
        "rotateTrackingKey"
    ]["trackingKey"]
    old = await post_batch(client, batch_body(site.tracking_key, shop_events()[:5]))
    assert old.status_code == 401
    fresh = await post_batch(client, batch_body(new_key, shop_events()[:5]))
    assert fresh.status_code == 200


async def test_deflate_bodies_are_accepted(client: httpx.AsyncClient, site: Site) -> None:
    raw = json.dumps(batch_body(site.tracking_key, shop_events()[:5])).encode()
    response = await post_batch(client, zlib.compress(raw), headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, response.text


async def test_too_many_requests_get_429(settings: Settings, db: Database, redis: Any) -> None:
    limited = settings.model_copy(update={"SIGHTLINE_INGEST_RATE_LIMIT": "3/minute"})
    async with serve(limited) as client:
        site = await new_site(client)
        statuses = []
        for seq in range(5):
            body = batch_body(site.tracking_key, shop_events()[:2], seq=seq)
            statuses.append((await post_batch(client, body)).status_code)
        assert statuses == [200, 200, 200, 429, 429]
        refused = await post_batch(client, batch_body(site.tracking_key, shop_events()[:2], seq=9))
        assert int(refused.headers["retry-after"]) > 0
    assert await db["recording_chunks"].count_documents({}) == 3


async def test_cors_preflight_answers_only_the_sites_domains(
    client: httpx.AsyncClient, site: Site
) -> None:
    key = site.tracking_key
    request_headers = {"Access-Control-Request-Method": "POST"}
    allowed = await client.options(
        f"/ingest?key={key}", headers={**request_headers, "Origin": SHOP_ORIGIN}
    )
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == SHOP_ORIGIN
    assert "POST" in allowed.headers["access-control-allow-methods"]
    denied = await client.options(
        f"/ingest?key={key}", headers={**request_headers, "Origin": "https://evil.example"}
    )
    assert denied.status_code == 403
    assert "access-control-allow-origin" not in denied.headers
    stored = await post_batch(client, batch_body(key, shop_events()[:3]))
    assert stored.headers["access-control-allow-origin"] == SHOP_ORIGIN


async def test_custom_events_and_errors_join_the_stream(
    client: httpx.AsyncClient, site: Site, db: Database
) -> None:
    events = shop_events()[:4]
    body = batch_body(
        site.tracking_key,
        events,
        custom=[
            {
                "name": "added_to_cart",
                "timestamp": events[2]["timestamp"],
                "properties": {"sku": "mug"},
            }
        ],
        errors=[
            {
                "message": "undefinedFunctionCall is not defined",
                "timestamp": events[3]["timestamp"] + 1,
            }
        ],
    )
    assert (await post_batch(client, body)).status_code == 200
    chunk = await db["recording_chunks"].find_one({})
    assert chunk is not None
    stored = codec.decode_events(bytes(chunk["data"]))
    tags = [(e["type"], e["data"].get("tag")) for e in stored]
    assert (5, "sightline.track") in tags
    assert tags[-1] == (5, "sightline.error")
    assert [e["timestamp"] for e in stored] == sorted(e["timestamp"] for e in stored)


async def test_a_long_session_keeps_a_bounded_page_list_and_every_batch(
    client: httpx.AsyncClient, site: Site, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("storage.sessions.MAX_PAGES", 3)
    monkeypatch.setattr("storage.sessions.MAX_URLS", 3)
    events = shop_events()
    first = await post_batch(client, batch_body(site.tracking_key, events[:2]))
    assert first.status_code == 200, first.text
    start = events[1]["timestamp"]
    for seq in range(1, 7):
        url = f"http://127.0.0.1:37047/page-{seq}.html"
        meta = {"type": 4, "data": {"href": url, "width": 1280, "height": 800}}
        body = batch_body(site.tracking_key, [{**meta, "timestamp": start + seq}], seq=seq, url=url)
        response = await post_batch(client, body)
        assert response.status_code == 200, response.text

    session = await db["sessions"].find_one({})
    assert session is not None
    assert len(session["pages"]) == 3
    assert len(session["urls"]) <= 3
    assert session["chunk_count"] == 7
    assert await db["recording_chunks"].count_documents({}) == 7
