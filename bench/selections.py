"""Selecting some rows of a session: `_id: {$in: …}` against equality on the session.

    .venv/bin/python -m bench.selections [--events N] [--sessions N] [--repeat N]

On its own FerretDB (PostgreSQL backend), with the analytics benchmark's events and one
small session document per session: the median time of each old form (as `upsert_events`,
`mark_rolled_up` and `session_details` sent them before issue 15) and of the new one.
"""

import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench import analytics
from bench.harness import run_sized_bench, running_stack
from storage import events, funnels, sessions
from storage.database import Database, create_client
from storage.ids import session_key
from storage.indexes import ensure_indexes

SITE = "bench-site"
DETAILS = 10  # sessions of a drop-off page


async def _median_ms(
    repeat: int, work: Callable[[], Awaitable[Any]], reset: Callable[[], Awaitable[Any]]
) -> float:
    samples = []
    for _ in range(repeat):
        await reset()
        started = time.perf_counter()
        await work()
        samples.append(time.perf_counter() - started)
    return round(statistics.median(samples) * 1000, 1)


async def _measure(db: Database, by_session: list[list[dict[str, Any]]], repeat: int) -> Any:
    session = by_session[len(by_session) // 2]
    session_id = session[0]["session_id"]
    ids = [e["_id"] for e in session]
    clicks = [e["_id"] for e in session if e["kind"] == "click"]
    page = [s[0]["session_id"] for s in by_session[:DETAILS]]
    keys = [session_key(SITE, s) for s in page]
    coll, sess = db[events.COLLECTION], db[sessions.COLLECTION]

    async def unmark() -> None:  # each run marks the same clicks afresh
        query = {"site_id": SITE, "session_id": session_id}
        await coll.update_many(query, {"$set": {"rolled_up": False}})

    forms = {
        "read a session's stored events": (
            lambda: coll.find({"_id": {"$in": ids}}).to_list(None),
            lambda: coll.find({"site_id": SITE, "session_id": session_id}).to_list(None),
        ),
        f"mark {len(clicks)} clicks rolled up": (
            lambda: coll.update_many({"_id": {"$in": clicks}}, {"$set": {"rolled_up": True}}),
            lambda: events.mark_rolled_up(db, SITE, session_id, clicks),
        ),
        f"details of {DETAILS} dropped sessions": (
            lambda: sess.find({"_id": {"$in": keys}}).to_list(None),
            lambda: funnels.session_details(db, SITE, page),
        ),
    }
    return {
        name: {
            "old_ms": await _median_ms(repeat, old, unmark),
            "new_ms": await _median_ms(repeat, new, unmark),
        }
        for name, (old, new) in forms.items()
    }


async def run_async(events_n: int, sessions_n: int, repeat: int) -> dict[str, Any]:
    by_session = analytics.generate(events_n, sessions_n)
    with running_stack(api=False) as stack:
        client = create_client(stack.mongodb_url, app_name="bench")
        db = client[stack.database]
        await ensure_indexes(db)
        await analytics._store(db, by_session)
        await db[sessions.COLLECTION].insert_many(
            {"_id": session_key(SITE, s[0]["session_id"]), "site_id": SITE,
             "session_id": s[0]["session_id"], "visitor_id": s[0]["visitor_id"]}
            for s in by_session
        )  # fmt: skip
        measured = await _measure(db, by_session, repeat)
        await client.close()
    return {"events": events_n, "sessions": sessions_n, "repeat": repeat, **measured}


def main() -> None:
    run_sized_bench(__doc__, run_async)


if __name__ == "__main__":
    main()
