"""Recording events on disk: a JSON array, compressed with zstd, in BSON Binary.

Storing the events as one compressed blob (never as nested documents) keeps
rrweb's arbitrary keys and nested arrays away from the database's rules and
is far smaller.
"""

import hashlib
from typing import Any

import orjson
import zstandard

LEVEL = 3


def encode_events(events: list[dict[str, Any]]) -> bytes:
    # A compressor per call: zstandard's contexts must not be shared across threads.
    return zstandard.ZstdCompressor(level=LEVEL).compress(orjson.dumps(events))


def decode_events(blob: bytes) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = orjson.loads(zstandard.ZstdDecompressor().decompress(blob))
    return events


def events_checksum(events: list[dict[str, Any]]) -> str:
    return hashlib.sha256(orjson.dumps(events)).hexdigest()
