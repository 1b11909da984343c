"""What an erasure left behind: every collection of the database, every field, searched.

The search walks each document recursively (keys and values, lists, nested
documents) and reads compressed blobs (recording chunks, parts, export slices:
zstd frames) as text, so a collection added later, or a copy of the data in a
new field or format, is covered without naming it here.
"""

from collections.abc import Collection
from typing import Any

import zstandard
from bson import Binary

from storage.database import Database

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _text_of(blob: bytes) -> str:
    if blob.startswith(ZSTD_MAGIC):
        reader = zstandard.ZstdDecompressor().stream_reader(blob, read_across_frames=True)
        blob = reader.read()
    return blob.decode("utf-8", errors="replace")


def _texts(value: Any) -> list[str]:
    """Every string a stored value holds, at any depth."""
    if isinstance(value, dict):
        return [t for key, item in value.items() for t in [str(key), *_texts(item)]]
    if isinstance(value, list | tuple):
        return [t for item in value for t in _texts(item)]
    if isinstance(value, Binary | bytes):
        return [_text_of(bytes(value))]
    return [str(value)]


async def mentions(db: Database, needles: list[str], *, records: Collection[str] = ()) -> list[str]:
    """`collection: needle` for each document of any collection holding a needle.

    `records` names collections that keep a record of the erasure on purpose (the
    privacy requests, which name the site they were made for)."""
    found = []
    for name in sorted(await db.list_collection_names()):
        if name in records:
            continue
        async for doc in db[name].find({}):
            text = "\n".join(_texts(doc))
            found.extend(f"{name}: {needle}" for needle in needles if needle in text)
    return found
