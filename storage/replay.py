"""Reading a session's recording back, in order, one stored piece at a time."""

from collections.abc import AsyncIterator
from typing import Any

from core import codec
from storage.database import Database
from storage.recordings import COLLECTION as CHUNKS


async def iter_session_events(
    db: Database, site_id: str, session_id: str
) -> AsyncIterator[list[dict[str, Any]]]:
    """Yield the stored events of one session, a chunk at a time, in sequence order."""
    cursor = db[CHUNKS].find(
        {"site_id": site_id, "session_id": session_id},
        projection={"data": 1, "seq": 1},
        sort=[("seq", 1)],
        batch_size=4,
    )
    async for chunk in cursor:
        yield codec.decode_events(bytes(chunk["data"]))
