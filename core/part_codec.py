"""Writing and reading compacted parts as zstd streams, one event at a time.

A part is a JSON array compressed with zstd. It is written by streaming
events into a compressor and read by streaming them out of a decompressor,
so neither side holds more than one compressed part and one event in memory.
The checksum covers each event's JSON, in order, so a part can be checked
against the chunks it came from without keeping them.
"""

import hashlib
import io
from collections.abc import Iterator
from typing import Any

import ijson
import orjson
import zstandard

LEVEL = 3


class PartWriter:
    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        self._stream = zstandard.ZstdCompressor(level=LEVEL).stream_writer(
            self._buffer, closefd=False
        )
        self._hash = hashlib.sha256()
        self.event_count = 0
        self.raw_size = 0

    def add(self, event: dict[str, Any]) -> None:
        encoded = orjson.dumps(event)
        self._hash.update(encoded + b"\n")
        piece = (b"," if self.event_count else b"[") + encoded
        self._stream.write(piece)
        self.raw_size += len(piece)
        self.event_count += 1

    def flush(self) -> None:
        """End the current zstd block, so `compressed_size` counts everything added."""
        self._stream.flush(zstandard.FLUSH_BLOCK)

    @property
    def compressed_size(self) -> int:
        return self._buffer.tell()

    @property
    def checksum(self) -> str:
        return self._hash.hexdigest()

    def finish(self) -> bytes:
        self._stream.write(b"]" if self.event_count else b"[]")
        self._stream.close()  # type: ignore[no-untyped-call]
        return self._buffer.getvalue()


def iter_part_events(blob: bytes) -> Iterator[dict[str, Any]]:
    """The events of a part, decoded one at a time from the compressed stream."""
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob))
    yield from ijson.items(reader, "item", use_float=True)


def checksum_of(events: Iterator[dict[str, Any]]) -> tuple[int, str]:
    digest = hashlib.sha256()
    count = 0
    for event in events:
        digest.update(orjson.dumps(event) + b"\n")
        count += 1
    return count, digest.hexdigest()
