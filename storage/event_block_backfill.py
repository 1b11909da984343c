"""Migration step: funnel event blocks for sessions processed before blocks existed.

For each processed session, its stored events (read by the session's equality keys) become
one block per day, folded straight into the day's parts at version 1. Idempotent: a
session already folded at that version or a later one is left as it is (a batch done
twice, or a session processed again by new code first, whose time-based version is far
above 1). Sessions processed later than the step are covered by extraction itself: a run
that finds no open block for a processed session starts from its stored events.
"""

from core.event_columns import Block, BlockSession, session_block, split_by_day
from storage import event_blocks, events
from storage.database import Database, Document

STEP = "event_blocks_from_events"
COLLECTION = "sessions"
PROJECTION: Document = {
    "site_id": 1,
    "session_id": 1,
    "visitor_id": 1,
    "processed_at": 1,
    **dict.fromkeys(event_blocks.SESSION_FACTS, 1),
}
MIGRATED_VERSION = 1


async def apply(db: Database, sessions: list[Document]) -> None:
    by_day: dict[tuple[str, int], list[Block]] = {}
    for session in sessions:
        if session.get("processed_at") is None or not isinstance(session.get("visitor_id"), str):
            continue
        site_id, session_id = session["site_id"], session["session_id"]
        query = {"site_id": site_id, "session_id": session_id}
        stored = await db[events.COLLECTION].find(query).to_list(None)
        owner = BlockSession(
            session_id, session["visitor_id"], MIGRATED_VERSION, event_blocks.facts_of(session)
        )
        for day, block in split_by_day(session_block(owner, stored)).items():
            by_day.setdefault((site_id, day), []).append(block)
    for (site_id, day), blocks in by_day.items():
        await event_blocks.fold_sessions(db, site_id, day, blocks)
