"""A NUL character in what a page sends is stored as U+FFFD, everywhere it goes.

MongoDB stores NUL in strings; PostgreSQL's JSON (FerretDB's local engine) refuses it, and
a refused write answered 503 makes the snippet retry a batch that can never be stored. The
real recording is sent with a NUL inside every string it holds (DOM text, attributes, URLs,
titles, custom event names and properties), processed, compacted and read back; no stored
document of any collection may hold a NUL, and the session reads as usual.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import zstandard
from redis.asyncio import Redis

from core.config import Settings
from core.inputs import REPLACEMENT
from storage.database import Database
from tests.accounts_helpers import create_site, data, sign_up
from tests.graphql_client import gql
from tests.ingest_helpers import send_recording, shop_events
from tests.leftovers import ZSTD_MAGIC
from tests.recording_helpers import run_job
from tests.workers_helpers import run_worker_burst
from workers.queue import Job

SESSIONS = """query($s: ID!) { sessions(siteId: $s) { nodes { sessionId pageCount entryUrl } } }"""


def _strings(value: Any) -> Iterator[str]:
    """Every string a stored value holds: keys, values, and the strings of JSON blobs
    (compressed or not); other binaries (packed numbers) hold no text."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, bytes):
        blob = bytes(value)
        if blob.startswith(ZSTD_MAGIC):
            blob = zstandard.ZstdDecompressor().stream_reader(blob, read_across_frames=True).read()
        try:
            yield from _strings(orjson.loads(blob))
        except orjson.JSONDecodeError:
            return


def _with_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value[:1] + "\x00" + value[1:]
    if isinstance(value, list):
        return [_with_nul(item) for item in value]
    if isinstance(value, dict):
        return {key: _with_nul(item) if key != "type" else item for key, item in value.items()}
    return value


async def test_a_recording_full_of_nul_is_stored_without_one(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    token = await sign_up(client, "nul@example.com")
    site = await create_site(client, token, domains=["127.0.0.1"])
    events = _with_nul(shop_events())
    custom = {"type": 5, "timestamp": events[-1]["timestamp"] + 1,
              "data": {"tag": "sign\x00up", "payload": {"pl\x00an": "pro\x00"}}}  # fmt: skip
    await send_recording(client, site["trackingKey"], [*events, custom])
    await run_worker_burst(settings)
    await run_job(settings, redis, Job.COMPACT_SESSION, site["id"], "session-0001")
    [session] = data(await gql(client, SESSIONS, {"s": site["id"]}, token=token))["sessions"][
        "nodes"
    ]
    assert session["pageCount"] >= 1
    stored = [text for name in await db.list_collection_names()
              async for doc in db[name].find({}) for text in _strings(doc)]  # fmt: skip
    assert [text for text in stored if "\x00" in text] == []
    assert any(REPLACEMENT in text for text in stored)
