"""Derived events stored the way extraction stores them: the events, then the session's
funnel blocks (`storage.event_blocks`)."""

from typing import Any

from storage.database import Database
from storage.event_blocks import record_session
from storage.events import upsert_events
from storage.ids import session_key


async def store_derived(db: Database, documents: list[dict[str, Any]]) -> None:
    """What a final extraction run writes for these events, session by session."""
    await upsert_events(db, documents)
    by_session: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for doc in documents:
        by_session.setdefault((doc["site_id"], doc["session_id"]), []).append(doc)
    for (site_id, session_id), derived in by_session.items():
        session = await db["sessions"].find_one({"_id": session_key(site_id, session_id)})
        if session is None:
            session = {"site_id": site_id, "session_id": session_id,
                       "visitor_id": derived[0]["visitor_id"]}  # fmt: skip
        await record_session(db, session, derived, final=True)
