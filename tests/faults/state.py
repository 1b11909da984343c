"""Comparing what two databases hold after the same work, interrupted or not."""

from typing import Any

import orjson
import zstandard

from core import codec
from core.part_codec import iter_part_events
from storage.database import Database, Document
from storage.indexes import ensure_indexes

# Written with the clock when a job ran: never the outcome of the job.
VOLATILE: dict[str, set[str]] = {
    "sites": set(),
    "sessions": {"processed_at", "compacted_at"},
    "visitors": set(),
    "events": set(),
    "heatmap_rollups": set(),
    "privacy_requests": {"started_at", "finished_at"},
    "tombstones": {"at"},
}


async def clone(source: Database, target: Database) -> None:
    """Copy every collection of `source` into the empty `target`."""
    await ensure_indexes(target)
    for name in await source.list_collection_names():
        documents = await source[name].find({}).to_list(None)
        if documents:
            await target[name].delete_many({})  # what start-up wrote (migration marks)
            await target[name].insert_many(documents)


async def documents(db: Database, name: str) -> list[Document]:
    found = await db[name].find({}).sort("_id", 1).to_list(None)
    return [{k: v for k, v in doc.items() if k not in VOLATILE[name]} for doc in found]


async def snapshot(db: Database) -> dict[str, Any]:
    """The outcome of the work: collections, recordings as events, exports as JSON."""
    state: dict[str, Any] = {name: await documents(db, name) for name in VOLATILE}
    state["recordings"] = await recordings(db)
    state["exports"] = await exports(db)
    return state


async def recordings(db: Database) -> dict[str, list[Any]]:
    """Each session's stored rrweb events in order, whether in chunks or in parts."""
    by_session: dict[str, list[tuple[int, list[Any]]]] = {}
    async for chunk in db["recording_chunks"].find({}):
        events = codec.decode_events(bytes(chunk["data"]))
        by_session.setdefault(chunk["session_id"], []).append((chunk["seq"], events))
    async for part in db["recording_parts"].find({}):
        events = list(iter_part_events(bytes(part["data"])))
        by_session.setdefault(part["session_id"], []).append((part["seqs"][0], events))
    return {
        session: [e for _, events in sorted(pieces, key=lambda p: p[0]) for e in events]
        for session, pieces in by_session.items()
    }


async def exports(db: Database) -> dict[str, Any]:
    """Each export request's document, without the moment it was generated."""
    blobs: dict[str, list[tuple[int, bytes]]] = {}
    async for doc in db["exports"].find({}):
        blobs.setdefault(doc["request_id"], []).append((doc["index"], bytes(doc["data"])))
    found = {}
    for request_id, slices in blobs.items():
        text = b"".join(
            zstandard.ZstdDecompressor().decompressobj().decompress(blob)
            for _, blob in sorted(slices)
        )
        document = orjson.loads(text)
        document["export"].pop("generated_at")
        for session in document["sessions"]:
            for name in VOLATILE["sessions"]:
                session["session"].pop(name, None)
        found[request_id] = document
    return found


async def seqs_by_session(db: Database) -> dict[str, list[int]]:
    """Every stored chunk seq of each session, from chunks and parts together."""
    found: dict[str, list[int]] = {}
    async for chunk in db["recording_chunks"].find({}, projection={"data": 0}):
        found.setdefault(chunk["session_id"], []).append(chunk["seq"])
    async for part in db["recording_parts"].find({}, projection={"data": 0}):
        found.setdefault(part["session_id"], []).extend(part["seqs"])
    return {session: sorted(seqs) for session, seqs in found.items()}
