"""Autotracked events derived from recordings, and the queries that find them.

An event's `_id` is its session key plus the extractor's deterministic key, so
processing the same recording twice upserts the same documents.

A CSS selector filter (`core.elements`) cannot be one MongoDB query: the database keeps
events whose own element (`element_path.0`) has the tag, id and classes the selector's subject
asks for, plus events stored before element paths existed, and each is then checked in full
in Python; the query never scans strings with a regular expression.
"""

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.elements import ElementSelector, SelectorMatch
from core.epoch import day_of, from_epoch_ms
from core.rrweb.selectors import Compound
from storage import engine
from storage.database import Database, Document, one_by_one, query_limit

COLLECTION = "events"
HOUR_MS = 3_600_000


def event_document(base: Document, derived: Document, timestamp_ms: int) -> Document:
    """The stored form: identity and session fields, the derived fields, time buckets."""
    return {
        **base,
        **derived,
        "at": from_epoch_ms(timestamp_ms),
        "hour": timestamp_ms - timestamp_ms % HOUR_MS,
        "day": day_of(timestamp_ms),
    }


class SessionEvents:
    """One session's stored events by `_id`, read once by equality on the session (FerretDB
    pushes only that down; `_id: {$in: …}` would decode every event of every site) and kept
    up to date as they are written. An extraction run diffs its writes, counts kinds and
    finds what heatmaps have not counted from it, instead of reading the session's events
    again for each; valid while nothing else writes them (the session's lease)."""

    def __init__(self, db: Database, stored: dict[str, Document]) -> None:
        self.db, self.stored = db, stored

    @classmethod
    async def read(cls, db: Database, site_id: str, session_id: str) -> "SessionEvents":
        query = {"site_id": site_id, "session_id": session_id}
        return cls(db, {doc["_id"]: doc async for doc in db[COLLECTION].find(query)})

    async def upsert(self, documents: list[Document]) -> int:
        """Write events by `_id`, replacing earlier versions; returns how many are stored.

        An event heatmaps have counted (`rolled_up`) keeps that mark and is replaced
        in place, never deleted even for a moment: a crash would forget the mark, and
        the next run would count it again. Unchanged events are not written at all.
        """
        if not documents:
            return 0
        fresh: list[Document] = []
        counted: list[Document] = []
        for doc in documents:
            before = self.stored.get(doc["_id"])
            doc["rolled_up"] = bool(before and before.get("rolled_up"))
            if before != doc:
                (counted if doc["rolled_up"] else fresh).append(doc)
        collection = self.db[COLLECTION]
        await one_by_one(collection.replace_one(_one(doc), doc) for doc in counted)
        # A crash half-way loses nothing: the chunks are marked processed only afterwards,
        # so the next run writes the events again.
        written = await engine.replace_many(collection, fresh, stored=self.stored, filter_of=_one)
        self.stored.update((doc["_id"], doc) for doc in documents)
        return len(documents) - len(fresh) + written

    def kind_counts(self) -> dict[str, int]:
        return dict(Counter(doc["kind"] for doc in self.stored.values()))

    def not_rolled_up(self, kinds: list[str]) -> list[Document]:
        return [
            doc for doc in self.stored.values() if doc["kind"] in kinds and not doc.get("rolled_up")
        ]


async def upsert_events(db: Database, documents: list[Document]) -> int:
    """`SessionEvents.upsert` for documents of any sessions (imports, tests)."""
    written = 0
    for site_id, session_id in sorted({(d["site_id"], d["session_id"]) for d in documents}):
        mine = [d for d in documents if (d["site_id"], d["session_id"]) == (site_id, session_id)]
        session = await SessionEvents.read(db, site_id, session_id)
        written += await session.upsert(mine)
    return written


def _one(doc: Document) -> Document:
    """One event, by `_id` and its session's equality keys."""
    return {"_id": doc["_id"], "site_id": doc["site_id"], "session_id": doc["session_id"]}


async def delete_session_events(
    db: Database, site_id: str, session_id: str, *, kinds: list[str] | None = None
) -> int:
    query: Document = {"site_id": site_id, "session_id": session_id}
    if kinds is not None:
        query["kind"] = {"$in": kinds}
    result = await db[COLLECTION].delete_many(query)
    return result.deleted_count


@dataclass(frozen=True)
class EventFilter:
    kinds: list[str] | None = None
    after: datetime | None = None
    before: datetime | None = None
    session_id: str | None = None
    visitor_id: str | None = None
    url_contains: str | None = None
    path: str | None = None
    selector: str | None = None
    text_contains: str | None = None
    name: str | None = None
    selector_match: SelectorMatch = SelectorMatch.CSS

    def element_selector(self) -> ElementSelector | None:
        """The compiled selector condition (SelectorError when it cannot be matched)."""
        if self.selector is None:
            return None
        return ElementSelector.parse(self.selector, self.selector_match)

    def checked_in_python(self) -> ElementSelector | None:
        """The selector condition `build_query` leaves to `ElementSelector.matches`."""
        selector = self.element_selector()
        return selector if selector is not None and selector.how == SelectorMatch.CSS else None


def build_query(site_id: str, f: EventFilter) -> Document:
    query: Document = {"site_id": site_id}
    if f.kinds:
        query["kind"] = {"$in": f.kinds}
    at: Document = {}
    if f.after is not None:
        at["$gte"] = f.after
    if f.before is not None:
        at["$lt"] = f.before
    if at:
        query["at"] = at
    exact = {"session_id": f.session_id, "visitor_id": f.visitor_id, "path": f.path,
             "name": f.name}  # fmt: skip
    query.update({k: v for k, v in exact.items() if v is not None})
    selector = f.element_selector()
    if selector is not None and selector.how == SelectorMatch.EXACT:
        query["selector"] = selector.text
    elif selector is not None:
        query["$and"] = [{"$or": [*map(_subject_query, selector.subjects()), _WITHOUT_PATH]}]
    if f.url_contains:
        query["url"] = {"$regex": re.escape(f.url_contains)}
    if f.text_contains:
        query["text"] = {"$regex": re.escape(f.text_contains), "$options": "i"}
    return query


# Events stored before `element_path` was kept: their selector is parsed back in Python.
_WITHOUT_PATH: Document = {"element_path": {"$exists": False}, "selector": {"$type": "string"}}


def _subject_query(subject: Compound) -> Document:
    """Events whose own element could match `subject`: its tag, first id and classes."""
    leaf: Document = {"element_path.0.t": subject.tag or {"$exists": True}}
    if subject.ids:
        leaf["element_path.0.i"] = subject.ids[0]
    if subject.classes:
        leaf["element_path.0.c"] = {"$all": list(subject.classes)}
    return leaf


async def search_events(
    db: Database,
    site_id: str,
    f: EventFilter,
    *,
    after: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> list[Document]:
    """Events newest first, cut by (at, _id) keyset."""
    query = build_query(site_id, f)
    if after is not None:
        # Beside the query's fields, not around them: FerretDB pushes down only top-level
        # equality (`site_id`), never what sits inside an `$and`.
        at, last_id = after
        keyset = {"$or": [{"at": {"$lt": at}}, {"at": at, "_id": {"$lt": last_id}}]}
        query = {**query, "$and": [*query.get("$and", []), keyset]}
    selector = f.checked_in_python()
    with query_limit(db):
        if selector is None:
            cursor = db[COLLECTION].find(query, sort=[("at", -1), ("_id", -1)], limit=limit)
            return await cursor.to_list(None)
        found: list[Document] = []
        async for doc in db[COLLECTION].find(query, sort=[("at", -1), ("_id", -1)]):
            if selector.matches(doc):
                found.append(doc)
                if len(found) == limit:
                    break
        return found


async def count_by_bucket(
    db: Database, site_id: str, f: EventFilter, bucket: str
) -> list[tuple[str, int, int]]:
    """(kind, bucket start in epoch ms, count) for `bucket` in {"hour", "day"}."""
    selector = f.checked_in_python()
    if selector is not None:
        return await _count_checked(db, build_query(site_id, f), selector, bucket)
    pipeline: list[dict[str, Any]] = [
        {"$match": build_query(site_id, f)},
        {"$group": {"_id": {"kind": "$kind", "bucket": f"${bucket}"}, "count": {"$sum": 1}}},
    ]
    with query_limit(db):
        cursor = await db[COLLECTION].aggregate(pipeline)
        rows = [(r["_id"]["kind"], r["_id"]["bucket"], r["count"]) async for r in cursor]
    return sorted(rows, key=lambda row: (row[1], row[0]))


async def _count_checked(
    db: Database, query: Document, selector: ElementSelector, bucket: str
) -> list[tuple[str, int, int]]:
    """`count_by_bucket` when each candidate must be checked in Python."""
    fields = dict.fromkeys(("kind", bucket, "selector", "element_path"), 1)
    counts: Counter[tuple[str, int]] = Counter()
    with query_limit(db):
        async for doc in db[COLLECTION].find(query, projection=fields):
            if selector.matches(doc):
                counts[doc["kind"], doc[bucket]] += 1
    return sorted(
        ((kind, start, count) for (kind, start), count in counts.items()),
        key=lambda row: (row[1], row[0]),
    )


async def count_session_kinds(db: Database, site_id: str, session_id: str) -> dict[str, int]:
    pipeline: list[dict[str, Any]] = [
        {"$match": {"site_id": site_id, "session_id": session_id}},
        {"$group": {"_id": "$kind", "count": {"$sum": 1}}},
    ]
    cursor = await db[COLLECTION].aggregate(pipeline)
    return {row["_id"]: row["count"] async for row in cursor}


async def mark_rolled_up(db: Database, site_id: str, session_id: str, event_ids: list[str]) -> None:
    """Mark exactly `event_ids`, the events a rollup counted, as rolled up.

    The session's unmarked events are read by equality on the session; a kind whose
    unmarked events are all among `event_ids` (always, under the session's lease: nothing
    writes the session's events between the count and the mark) is marked in one statement
    by equality on it, any other one `_id` at a time. Marking by kind without looking
    would also mark an event written after the count, which would then never count.
    """
    if not event_ids:
        return
    wanted = set(event_ids)
    unmarked: dict[str, set[str]] = {}
    base = {"site_id": site_id, "session_id": session_id, "rolled_up": {"$ne": True}}
    async for doc in db[COLLECTION].find(base, projection={"kind": 1}):
        unmarked.setdefault(doc["kind"], set()).add(doc["_id"])
    mark = {"$set": {"rolled_up": True}}
    one_each: list[str] = []
    for kind, found in sorted(unmarked.items()):
        if found <= wanted:
            await db[COLLECTION].update_many({**base, "kind": kind}, mark)
        else:
            one_each.extend(sorted(found & wanted))
    await one_by_one(db[COLLECTION].update_one({"_id": i, **base}, mark) for i in one_each)
