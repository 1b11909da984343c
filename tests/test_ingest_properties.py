"""Property tests of `POST /ingest` against the real app and FerretDB: whatever a client sends,
the answer is a 4xx or a 200, never a 500 or a crash, and a refused batch writes nothing while
an accepted one is stored exactly."""

import gzip
import itertools
import json
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from core import codec
from core.config import Settings
from core.inputs import without_nul
from storage.database import Database
from storage.ids import chunk_key
from tests.conftest import serve
from tests.hostile_rrweb import (
    TS_MAX,
    TS_MIN,
    event_lists,
    json_objects,
    json_values,
    valid_timestamps,
)
from tests.ingest_helpers import SHOP_ORIGIN, SHOP_URL
from tests.world_fixtures import new_site

COLLECTIONS = ("recording_chunks", "sessions", "visitors")
# Strategies draw with these, so that what they draw never depends on the fixture's state;
# each example then gets the site's key and a session of its own (of the same lengths).
PLACEHOLDER_KEY = "slk_PLACEHOLDERplaceholder12"
PLACEHOLDER_SESSION = "prop-session-PLACEH"
EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass
class Shop:
    client: httpx.AsyncClient
    db: Database
    key: str
    site_id: str
    sessions: "itertools.count[int]" = field(default_factory=itertools.count)

    def session_id(self) -> str:
        return f"prop-session-{next(self.sessions):06d}"

    def fresh(self, text: str) -> str:
        """`text` (drawn with PLACEHOLDER_SESSION) for a new session of this shop's site."""
        return text.replace(PLACEHOLDER_KEY, self.key).replace(
            PLACEHOLDER_SESSION, self.session_id()
        )


@pytest_asyncio.fixture
async def shop(settings: Settings, db: Database, redis: Redis) -> AsyncIterator[Shop]:
    unthrottled = settings.model_copy(update={"SIGHTLINE_INGEST_RATE_LIMIT": "1000000/minute"})
    async with serve(unthrottled) as client:
        site = await new_site(client)
        yield Shop(client, db, site.tracking_key, site.id)


customs = st.lists(
    st.fixed_dictionaries(
        {"name": st.text(min_size=1, max_size=20), "timestamp": valid_timestamps},
        optional={"properties": json_objects},
    ),
    max_size=3,
)
errors = st.lists(
    st.fixed_dictionaries(
        {"message": st.text(max_size=30), "timestamp": valid_timestamps},
        optional={
            "stack": st.text(max_size=30) | st.none(),
            "line": st.integers(-(2**63), 2**64 - 1) | st.none(),
            "column": st.integers(0, 10**6) | st.none(),
        },
    ),
    max_size=3,
)


@st.composite
def valid_batches(draw: st.DrawFn) -> dict[str, Any]:
    batch: dict[str, Any] = {
        "key": PLACEHOLDER_KEY,
        "visitor_id": "visitor-props-01",
        "session_id": PLACEHOLDER_SESSION,
        "seq": draw(st.integers(0, 10_000_000)),
        "page": {"url": SHOP_URL, "title": draw(st.text(max_size=20) | st.none())},
        "events": draw(event_lists),
    }
    if draw(st.booleans()):
        batch["custom"] = draw(customs)
    if draw(st.booleans()):
        batch["errors"] = draw(errors)
    return batch


async def _snapshot(db: Database) -> dict[str, list[str]]:
    return {
        name: sorted(str(doc) for doc in await db[name].find({}).to_list(None))
        for name in COLLECTIONS
    }


async def _post(shop: Shop, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    all_headers = {"Content-Type": "application/json", "Origin": SHOP_ORIGIN, **(headers or {})}
    return await shop.client.post(f"/ingest?key={shop.key}", content=body, headers=all_headers)


async def _check_stored_exactly(shop: Shop, sent: dict[str, Any]) -> None:
    """The chunk holds every event sent (rrweb events in their order, custom events and
    errors merged in by time), and the session and visitor count them."""
    chunk = await shop.db["recording_chunks"].find_one(
        {"_id": chunk_key(shop.site_id, sent["session_id"], int(sent["seq"]))}
    )
    assert chunk is not None
    stored = codec.decode_events(bytes(chunk["data"]))
    extra = sent.get("custom", []) + sent.get("errors", [])
    assert len(stored) == len(sent["events"]) + len(extra)
    expected_times = sorted(e["timestamp"] for e in sent["events"] + extra)
    assert sorted(e["timestamp"] for e in stored) == expected_times
    untouched = [e for e in sent["events"] if e["type"] not in (2, 3, 5)]
    assert [e for e in stored if e["type"] not in (2, 3, 5)] == untouched
    session = await shop.db["sessions"].find_one({"session_id": sent["session_id"]})
    assert session is not None
    assert session["event_count"] == len(stored)
    assert await shop.db["visitors"].count_documents({"visitor_id": sent["visitor_id"]}) == 1


async def _send_and_check(
    shop: Shop, body: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    """Post `body`: a 200 stores the batch exactly (a NUL in a string as U+FFFD, which every
    engine can store), anything else is a 4xx that writes nothing."""
    before = await _snapshot(shop.db)
    response = await _post(shop, body, headers)
    if response.status_code != 200:
        assert await _snapshot(shop.db) == before, f"partial write, then {response.text}"
        assert response.status_code in (400, 413), response.text
        assert response.json()["code"] in {
            "invalid_json",
            "invalid_batch",
            "bad_encoding",
            "payload_too_large",
        }
        return response
    assert response.json() == {"status": "stored"}, response.text
    await _check_stored_exactly(shop, without_nul(_decoded(body, headers or {})))
    return response


def _decoded(body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    if headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    elif headers.get("Content-Encoding") == "deflate":
        body = zlib.decompress(body)
    sent: dict[str, Any] = orjson.loads(body)
    return sent


@EXAMPLES
@given(data=st.data(), encoding=st.sampled_from(["identity", "gzip", "deflate"]))
async def test_a_valid_batch_is_stored_exactly(
    shop: Shop, data: st.DataObject, encoding: str
) -> None:
    body = shop.fresh(json.dumps(data.draw(valid_batches()))).encode()
    headers = {}
    if encoding == "gzip":
        body, headers = gzip.compress(body), {"Content-Encoding": "gzip"}
    elif encoding == "deflate":
        body, headers = zlib.compress(body), {"Content-Encoding": "deflate"}
    response = await _send_and_check(shop, body, headers)
    assert response.status_code == 200, response.text


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every position in a JSON value, the root included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    return [_replaced(item, rest, new) if i == head else item for i, item in enumerate(value)]


def _dropped(value: Any, path: tuple[Any, ...]) -> Any:
    head, rest = path[0], path[1:]
    if not rest:
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if k != head}
        return [item for i, item in enumerate(value) if i != head]
    if isinstance(value, dict):
        return {**value, head: _dropped(value[head], rest)}
    return [_dropped(item, rest) if i == head else item for i, item in enumerate(value)]


@EXAMPLES
@given(data=st.data())
async def test_any_value_of_a_batch_replaced_or_dropped_gets_a_4xx_or_is_stored(
    shop: Shop, data: st.DataObject
) -> None:
    batch = data.draw(valid_batches())
    path = data.draw(st.sampled_from(_paths(batch)))
    if path and data.draw(st.booleans()):
        changed = _dropped(batch, path)
    else:
        changed = _replaced(batch, path, data.draw(json_values))
    await _send_and_check(shop, shop.fresh(json.dumps(changed)).encode())


NUMBER_LITERALS = ["1e308", "-1e308", "1e400", "NaN", "Infinity", "-Infinity", "1.5", "-0",
                   "18446744073709551615", "18446744073709551616", "9223372036854775808",
                   "-9223372036854775809", "123456789012345678901234567890", "0x10", "1E3",
                   f"{TS_MIN}.0", f"{TS_MAX}.5", f'"{TS_MIN}"', "true", "4.0", '"4"']  # fmt: skip
LITERAL_SPOTS = ['"seq": 0', '"type": 4', f'"timestamp": {TS_MIN}', '"width": 1280',
                 '"height": 800', '"n": 1', '"line": 1', '"id": 7']  # fmt: skip


def _template() -> str:
    snapshot = {
        "node": {
            "type": 0,
            "id": 1,
            "childNodes": [
                {
                    "type": 2,
                    "id": 7,
                    "tagName": "input",
                    "attributes": {"type": "checkbox"},
                    "childNodes": [],
                }
            ],
        }
    }
    batch = {
        "key": PLACEHOLDER_KEY,
        "visitor_id": "visitor-props-01",
        "session_id": PLACEHOLDER_SESSION,
        "seq": 0,
        "page": {"url": SHOP_URL},
        "events": [
            {
                "type": 4,
                "data": {"href": SHOP_URL, "width": 1280, "height": 800},
                "timestamp": TS_MIN,
            },
            {"type": 2, "data": snapshot, "timestamp": TS_MIN + 1},
        ],
        "custom": [{"name": "n", "timestamp": TS_MIN + 2, "properties": {"n": 1}}],
        "errors": [{"message": "m", "timestamp": TS_MIN + 3, "line": 1}],
    }
    return json.dumps(batch)


@EXAMPLES
@given(spot=st.sampled_from(LITERAL_SPOTS), literal=st.sampled_from(NUMBER_LITERALS))
async def test_extreme_and_invalid_number_literals(shop: Shop, spot: str, literal: str) -> None:
    text = shop.fresh(_template())
    assert spot in text
    name = spot.split(":")[0]
    await _send_and_check(shop, text.replace(spot, f"{name}: {literal}", 1).encode())


@EXAMPLES
@given(depth=st.integers(1, 1200), where=st.sampled_from(["event", "custom"]))
async def test_deeply_nested_values(shop: Shop, depth: int, where: str) -> None:
    text = shop.fresh(_template())
    nested = "[" * depth + "]" * depth
    spot = '"href": ' if where == "event" else '"n": '
    await _send_and_check(shop, text.replace(spot, f'"deep": {nested}, {spot}', 1).encode())


@st.composite
def broken_bodies(draw: st.DrawFn, shop: Shop) -> tuple[bytes, dict[str, str]]:
    raw = shop.fresh(_template()).encode()
    assert len(raw) == len(_template().encode())
    how = draw(st.sampled_from(["truncate", "bytes", "gzip-truncate", "gzip-flip", "garbage"]))
    if how == "truncate":
        return raw[: draw(st.integers(0, len(raw) - 1))], {}
    if how == "bytes":
        at = draw(st.integers(0, len(raw)))
        junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\\ud800"]))
        return raw[:at] + junk + raw[at:], {}
    if how == "garbage":
        return draw(st.binary(max_size=64)), draw(
            st.sampled_from([{}, {"Content-Encoding": "gzip"}, {"Content-Encoding": "deflate"}])
        )
    packed = gzip.compress(raw)
    # A share of the length: the compressed size varies with the key and session id.
    at = draw(st.integers(0, 999)) * len(packed) // 1000
    if how == "gzip-truncate":
        return packed[:at], {"Content-Encoding": "gzip"}
    flipped = packed[:at] + bytes([packed[at] ^ draw(st.integers(1, 255))]) + packed[at + 1 :]
    return flipped, {"Content-Encoding": "gzip"}


@EXAMPLES
@given(data=st.data())
async def test_truncated_corrupt_and_garbage_bodies(shop: Shop, data: st.DataObject) -> None:
    body, headers = data.draw(broken_bodies(shop))
    await _send_and_check(shop, body, headers)


def _checkbox_snapshot(checkbox_id: int) -> dict[str, Any]:
    checkbox = {
        "type": 2,
        "id": checkbox_id,
        "tagName": "input",
        "attributes": {"type": "checkbox"},
        "childNodes": [],
    }
    return {"node": {"type": 0, "id": 1, "childNodes": [checkbox]}}


REGRESSIONS: list[tuple[str, list[dict[str, Any]], dict[str, Any], int]] = [
    (
        "a viewport wider than int64 (was a 500 after the chunk was written)",
        [
            {
                "type": 4,
                "data": {"href": SHOP_URL, "width": 2**63, "height": 800},
                "timestamp": TS_MIN,
            }
        ],
        {},
        200,
    ),
    (
        "a node id beyond int64 in the privacy state (was a 500 after the chunk was written)",
        [{"type": 2, "data": _checkbox_snapshot(2**63), "timestamp": TS_MIN}],
        {},
        200,
    ),
    (
        "a timestamp sent as a string (was a 500 after the chunk was written)",
        [{"type": 4, "data": {"href": SHOP_URL}, "timestamp": str(TS_MIN)}],
        {},
        400,
    ),
    (
        "timestamps as a string and a number (was a 500)",
        [{"type": 4, "data": {}, "timestamp": str(TS_MIN)}, {"type": 3, "timestamp": TS_MIN}],
        {},
        400,
    ),
    (
        "custom properties nested 250 levels deep (was a 500)",
        [{"type": 4, "data": {}, "timestamp": TS_MIN}],
        {"custom": [{"name": "deep", "timestamp": TS_MIN, "properties": {"p": [[]]}}]},
        400,
    ),
    (
        "an event nested 300 levels deep (was a 500)",
        [{"type": 6, "data": {"p": [[]]}, "timestamp": TS_MIN}],
        {},
        400,
    ),
]


def _nest(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


async def test_inputs_that_once_broke_ingest(shop: Shop) -> None:
    for case, events, extra, status in REGRESSIONS:
        body = {"key": shop.key, "visitor_id": "visitor-props-01", "session_id": shop.session_id(),
                "seq": 0, "page": {"url": SHOP_URL}, "events": events, **extra}  # fmt: skip
        text = json.dumps(body).replace("[[]]", json.dumps(_nest([], 249 if extra else 298)))
        response = await _send_and_check(shop, text.encode())
        assert response.status_code == status, f"{case}: {response.text}"


async def test_thousands_of_long_page_urls_in_one_batch_are_stored(shop: Shop) -> None:
    """Every Meta event is a page of the session; 4,200 of 4 kB once made the session
    document outgrow MongoDB's 16 MB limit: a 500 after the chunk was written."""
    href = SHOP_URL + "?" + "q" * 4000
    events = [
        {
            "type": 4,
            "data": {"href": f"{href}{i}", "width": 1280, "height": 800},
            "timestamp": TS_MIN + i,
        }
        for i in range(4200)
    ]
    body = {
        "key": shop.key,
        "visitor_id": "visitor-props-01",
        "session_id": shop.session_id(),
        "seq": 0,
        "page": {"url": SHOP_URL},
        "events": events,
    }
    raw = gzip.compress(json.dumps(body).encode())
    response = await _send_and_check(shop, raw, {"Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
    session = await shop.db["sessions"].find_one({"session_id": body["session_id"]})
    assert session is not None
    assert session["entry_url"] == f"{href}0"
