"""`rolled_up` marks land on exactly the events a rollup counted (real FerretDB).

The marks are set by equality on the session and kind when that cannot reach further, one
`_id` at a time otherwise; an event the rollup did not count stays unmarked either way.
"""

from storage import events
from storage.database import Database

SITE, SESSION = "site-1", "session-1"


def _event(n: int, kind: str, session_id: str = SESSION) -> dict[str, object]:
    base = {"_id": f"{SITE}:{session_id}:{kind}:{n}", "site_id": SITE, "session_id": session_id}
    return events.event_document(base, {"kind": kind}, 1_795_000_000_000 + n)


async def _marked(db: Database) -> list[str]:
    cursor = db[events.COLLECTION].find({"rolled_up": True}, projection={"_id": 1})
    return sorted([doc["_id"] async for doc in cursor])


async def test_only_the_counted_events_are_marked(db: Database) -> None:
    stored = [_event(1, "click"), _event(2, "click"), _event(3, "scroll"), _event(4, "page_view")]
    other = _event(1, "click", session_id="session-2")
    await events.upsert_events(db, [*stored, other])

    await events.mark_rolled_up(db, SITE, SESSION, [stored[0]["_id"], stored[1]["_id"]])
    assert await _marked(db) == [stored[0]["_id"], stored[1]["_id"]]

    # A click written after the count (by a run that lost its lease, say) is not swept in.
    late = [_event(5, "click"), _event(6, "click")]
    await events.upsert_events(db, late)
    await events.mark_rolled_up(db, SITE, SESSION, [late[0]["_id"], stored[2]["_id"]])
    assert await _marked(db) == sorted(
        [stored[0]["_id"], stored[1]["_id"], stored[2]["_id"], late[0]["_id"]]
    )


async def test_a_changed_event_keeps_its_mark_and_a_rewritten_one_is_stored_once(
    db: Database,
) -> None:
    click, view = _event(1, "click"), _event(2, "page_view")
    assert await events.upsert_events(db, [dict(click), dict(view)]) == 2
    await events.mark_rolled_up(db, SITE, SESSION, [click["_id"]])

    changed = [{**click, "selector": "a"}, {**view, "path": "/b"}, _event(3, "click")]
    assert await events.upsert_events(db, changed) == 3

    stored = {doc["_id"]: doc async for doc in db[events.COLLECTION].find({})}
    assert len(stored) == 3
    assert stored[click["_id"]]["selector"] == "a"
    assert stored[click["_id"]]["rolled_up"] is True
    assert stored[view["_id"]]["path"] == "/b"
    assert stored[view["_id"]]["rolled_up"] is False
