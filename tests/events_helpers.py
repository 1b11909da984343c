"""Derived events stored the way extraction stores them: the events, then the session's
funnel blocks (`storage.event_blocks`)."""

from typing import Any

from core.event_columns import Block, BlockSession, session_block, split_by_day
from storage.database import Database
from storage.event_blocks import fold_sessions, record_session
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


async def fold_derived(db: Database, documents: list[dict[str, Any]]) -> None:
    """Many sessions' events at once, as folded blocks only (the `events` collection left
    to the caller): what extraction leaves once every session is finished and folded."""
    by_session: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for doc in documents:
        by_session.setdefault((doc["site_id"], doc["session_id"]), []).append(doc)
    by_day: dict[tuple[str, int], list[Block]] = {}
    for (site_id, session_id), events in by_session.items():
        owner = BlockSession(session_id, events[0]["visitor_id"], 1)
        for day, block in split_by_day(session_block(owner, events)).items():
            by_day.setdefault((site_id, day), []).append(block)
    for (site_id, day), blocks in by_day.items():
        await fold_sessions(db, site_id, day, blocks)
