"""The client's clock against the server's: how far ahead a batch may be dated.

A browser's clock can be wrong and a client can send any timestamp, so nothing that
must hold over time trusts it: retention, compaction and the outbox run on the
server's receive time, stored on every chunk, session and visitor. Client timestamps
only order and place events within a session. A batch dated further ahead of its
receipt than the allowed skew is refused: it would show in the API as the future.
"""

from collections.abc import Iterator
from datetime import datetime, timedelta

from api.ingest.contract import Batch


def _timestamps(batch: Batch) -> Iterator[int]:
    yield from (e.timestamp for e in batch.events)
    yield from (c.timestamp for c in batch.custom)
    yield from (e.timestamp for e in batch.errors)


def ahead_by(batch: Batch, received_at: datetime) -> timedelta:
    """How far the batch's latest timestamp is ahead of `received_at` (negative: behind)."""
    latest = max(_timestamps(batch))
    return timedelta(milliseconds=latest) - timedelta(seconds=received_at.timestamp())
