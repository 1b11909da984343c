"""One worker at a time per session: processing, compaction and erasure all hold
the session's lease while they work, so none of them can undo another's work
(an extraction that already read the chunks cannot write events back after an
erasure, a compaction cannot write a part from chunks an erasure deleted).

The lease is a claim in MongoDB, renewed while the holder works; a worker that
dies lets it expire.
"""

import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from storage import claims
from storage.database import Database
from storage.ids import session_key

DEFAULT_LEASE = timedelta(seconds=60)


class LeaseLost(RuntimeError):
    """Another worker took over: the holder stops without changing anything more."""


class SessionLease:
    def __init__(self, db: Database, site_id: str, session_id: str, duration: timedelta) -> None:
        self.db, self.duration = db, duration
        self.name = f"session:{session_key(site_id, session_id)}"
        self.holder = f"{socket.gethostname()}:{uuid.uuid4().hex}"
        self._renewed = time.monotonic()

    async def acquire(self) -> bool:
        return await claims.acquire(self.db, self.name, self.holder, self.duration)

    async def keep(self) -> None:
        """Renew the lease when a third of it has passed; LeaseLost if it was taken."""
        if time.monotonic() - self._renewed < self.duration.total_seconds() / 3:
            return
        if not await claims.renew(self.db, self.name, self.holder, self.duration):
            raise LeaseLost(self.name)
        self._renewed = time.monotonic()

    async def release(self) -> None:
        await claims.release(self.db, self.name, self.holder)


@asynccontextmanager
async def session_lease(
    db: Database, site_id: str, session_id: str, duration: timedelta = DEFAULT_LEASE
) -> AsyncIterator[SessionLease | None]:
    """The session's lease for the block, or None when another worker holds it."""
    lease = SessionLease(db, site_id, session_id, duration)
    if not await lease.acquire():
        yield None
        return
    try:
        yield lease
    finally:
        await lease.release()
