"""Saved funnels, and a site's events streamed one unit (session or visitor) at a time.

A saved funnel keeps its definition as a plain document (see `definition_document`). Results
are computed from the `events` collection: `iter_units` reads the events of the needed kinds
through one sorted cursor and hands them over grouped by session or visitor, so memory holds
one unit's events at a time (plus, when filtering or breaking down, one small entry per
session of the range).
"""

from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.cursor import AsyncCursor

from core.elements import ElementSelector, SelectorMatch
from core.funnels import (
    DEFAULT_WINDOW_MS,
    EventType,
    Exclusion,
    FunnelDefinition,
    MatchOp,
    Step,
    StepMatcher,
    Unit,
    UnitEvents,
    UrlMatcher,
)
from core.rrweb.selectors import SelectorError
from storage import events, sessions
from storage.database import Database, Document, one_by_one
from storage.ids import new_id, session_key

COLLECTION = "funnels"
MAX_FUNNELS_PER_SITE = 200
SCAN_BATCH_SIZE = 1000
SCAN_MAX_TIME_MS = 30_000
# A unit with more events than this (a bot, a tab left open for weeks) is judged on its first
# ones only, so one unit cannot take the process's memory.
MAX_UNIT_EVENTS = 100_000
BREAKDOWN_FIELDS = ("device_type", "browser", "country")
EVENT_FIELDS = ("kind", "at", "session_id", "visitor_id", "url", "path", "selector", "element_path",
                "text", "name")  # fmt: skip
_MATCHER_FIELDS = ("selector", "text_contains", "name")


# Definitions as documents.


def definition_document(definition: FunnelDefinition) -> Document:
    """The stored form of a (validated) definition: plain values, absent fields left out."""
    return {
        "steps": [_step_document(step) for step in definition.steps],
        "conversion_window_ms": definition.conversion_window_ms,
    }


def _step_document(step: Step) -> Document:
    doc: Document = {"type": step.type.value, **_matcher_document(step.matcher)}
    if step.label is not None:
        doc["label"] = step.label
    if step.max_ms_from_previous is not None:
        doc["max_ms_from_previous"] = step.max_ms_from_previous
    if step.exclusions:
        doc["exclusions"] = [
            {"type": item.type.value, **_matcher_document(item.matcher)} for item in step.exclusions
        ]
    return doc


def _matcher_document(matcher: StepMatcher) -> Document:
    doc: Document = {}
    if matcher.url is not None:
        url = matcher.url
        doc["url"] = {"field": url.field, "op": url.op.value, "value": url.value}
    for name in _MATCHER_FIELDS:
        value = getattr(matcher, name)
        if value is not None:
            doc[name] = value
    if matcher.selector is not None:
        doc["selector_match"] = matcher.selector_match.value
    return doc


def definition_of(doc: Mapping[str, Any]) -> FunnelDefinition:
    """The definition a stored document holds (the inverse of `definition_document`)."""
    return FunnelDefinition(
        steps=tuple(_step_of(step) for step in doc.get("steps") or ()),
        conversion_window_ms=doc.get("conversion_window_ms", DEFAULT_WINDOW_MS),
    )


def _step_of(doc: Mapping[str, Any]) -> Step:
    return Step(
        type=EventType(doc["type"]),
        matcher=_matcher_of(doc),
        label=doc.get("label"),
        max_ms_from_previous=doc.get("max_ms_from_previous"),
        exclusions=tuple(
            Exclusion(EventType(item["type"]), _matcher_of(item))
            for item in doc.get("exclusions") or ()
        ),
    )


def _matcher_of(doc: Mapping[str, Any]) -> StepMatcher:
    url = doc.get("url")
    return StepMatcher(
        url=UrlMatcher(url["field"], MatchOp(url["op"]), url["value"]) if url else None,
        selector=doc.get("selector"),
        text_contains=doc.get("text_contains"),
        name=doc.get("name"),
        selector_match=_selector_match(doc),
    )


def _selector_match(doc: Mapping[str, Any]) -> SelectorMatch:
    """As stored; a funnel saved before CSS matching existed keeps exact matching only when
    its selector is not a CSS selector we can match (say a long path cut short)."""
    stored = doc.get("selector_match")
    if stored is not None:
        return SelectorMatch(stored)
    selector = doc.get("selector")
    if selector is None:
        return SelectorMatch.CSS
    try:
        ElementSelector.parse(selector)
    except SelectorError:
        return SelectorMatch.EXACT
    return SelectorMatch.CSS


# Saved funnels.


async def create_funnel(db: Database, *, site_id: str, name: str, definition: Document) -> Document:
    now = datetime.now(UTC)
    funnel = {
        "_id": new_id(),
        "site_id": site_id,
        "name": name,
        "definition": definition,
        "created_at": now,
        "updated_at": now,
    }
    await db[COLLECTION].insert_one(funnel)
    return funnel


async def count_funnels(db: Database, site_id: str) -> int:
    return await db[COLLECTION].count_documents({"site_id": site_id})


async def find_funnel(db: Database, funnel_id: str) -> Document | None:
    """A funnel by id, whatever its site: the caller checks that the site is theirs."""
    return await db[COLLECTION].find_one({"_id": funnel_id})


async def list_funnels(
    db: Database, site_id: str, *, limit: int = MAX_FUNNELS_PER_SITE
) -> list[Document]:
    """A site's funnels, oldest first."""
    cursor = db[COLLECTION].find({"site_id": site_id}, sort=[("_id", 1)], limit=limit)
    return await cursor.to_list(None)


async def update_funnel(
    db: Database, site_id: str, funnel_id: str, changes: Document
) -> Document | None:
    return await db[COLLECTION].find_one_and_update(
        {"_id": funnel_id, "site_id": site_id},
        {"$set": {**changes, "updated_at": datetime.now(UTC)}},
        return_document=ReturnDocument.AFTER,
    )


async def delete_funnel(db: Database, site_id: str, funnel_id: str) -> bool:
    result = await db[COLLECTION].delete_one({"_id": funnel_id, "site_id": site_id})
    return result.deleted_count == 1


# Streaming units.


@dataclass(frozen=True)
class SessionFilter:
    """Conditions on the session an event belongs to; every one given must hold."""

    device_type: str | None = None
    browser: str | None = None
    country: str | None = None

    def conditions(self) -> dict[str, str]:
        return {name: value for name, value in vars(self).items() if value is not None}


class _SessionFacts:
    """Per session: whether it passes the filter, and its breakdown value.

    The sessions active in the range are loaded with one query (only the fields needed); a
    session an event names but that query missed is looked up by its key, once.
    """

    def __init__(
        self, db: Database, site_id: str, session_filter: SessionFilter, breakdown: str | None
    ) -> None:
        if breakdown is not None and breakdown not in BREAKDOWN_FIELDS:
            raise ValueError(f"cannot break down by {breakdown!r}")
        self.db, self.site_id, self.breakdown = db, site_id, breakdown
        self.wanted = session_filter.conditions()
        self.needed = bool(self.wanted) or breakdown is not None
        self.known: dict[str, tuple[bool, str | None]] = {}

    def _projection(self) -> Document:
        fields = {*self.wanted, *([self.breakdown] if self.breakdown else [])}
        return {"session_id": 1, **dict.fromkeys(sorted(fields), 1)}

    def _facts(self, doc: Mapping[str, Any]) -> tuple[bool, str | None]:
        passes = all(doc.get(name) == value for name, value in self.wanted.items())
        value = doc.get(self.breakdown) if self.breakdown else None
        return passes, value if isinstance(value, str) else None

    async def load(self, start: datetime, end: datetime) -> None:
        if not self.needed:
            return
        query = {
            "site_id": self.site_id,
            "started_at": {"$lt": end},
            "last_activity_at": {"$gte": start},
        }
        cursor = self.db[sessions.COLLECTION].find(
            query,
            projection=self._projection(),
            batch_size=SCAN_BATCH_SIZE,
            max_time_ms=SCAN_MAX_TIME_MS,
        )
        async for doc in cursor:
            self.known[doc["session_id"]] = self._facts(doc)

    async def of(self, session_id: object) -> tuple[bool, str | None]:
        if not self.needed:
            return True, None
        if not isinstance(session_id, str):
            return self._facts({})
        facts = self.known.get(session_id)
        if facts is None:
            doc = await self.db[sessions.COLLECTION].find_one(
                {"_id": session_key(self.site_id, session_id)}, projection=self._projection()
            )
            facts = self.known[session_id] = self._facts(doc or {})
        return facts


class _Gathering:
    """The events of one unit, as they come off the cursor."""

    def __init__(self, unit_id: str) -> None:
        self.unit_id = unit_id
        self.session_id = ""
        self.breakdown: str | None = None
        self.events: list[Document] = []

    def add(self, event: Document, breakdown: str | None) -> None:
        if not self.events:
            self.session_id = str(event.get("session_id") or "")
            self.breakdown = breakdown
        if len(self.events) < MAX_UNIT_EVENTS:
            self.events.append(event)

    def finish(self) -> UnitEvents | None:
        if not self.events:
            return None
        return UnitEvents(self.unit_id, self.session_id, self.breakdown, self.events)


def unit_field(unit: Unit) -> str:
    return "visitor_id" if unit == Unit.VISITORS else "session_id"


async def iter_units(
    db: Database,
    site_id: str,
    start: datetime,
    end: datetime,
    kinds: Sequence[str],
    unit: Unit,
    session_filter: SessionFilter | None = None,
    breakdown: str | None = None,
) -> AsyncGenerator[UnitEvents, None]:
    """The site's events in [start, end) of the given kinds, one unit at a time.

    A unit's events come in time order; its breakdown value is that of the session of its
    first event kept. Events of sessions that fail the filter are left out, so a visitor
    counts with the sessions that pass, and a unit left with no event is not yielded at all.
    """
    facts = _SessionFacts(db, site_id, session_filter or SessionFilter(), breakdown)
    await facts.load(start, end)
    field = unit_field(unit)
    current: _Gathering | None = None
    async with _scan(db, site_id, start, end, kinds, field) as cursor:
        async for event in cursor:
            unit_id = event.get(field)
            if not isinstance(unit_id, str):
                continue
            if current is None or unit_id != current.unit_id:
                done = current.finish() if current else None
                if done is not None:
                    yield done
                current = _Gathering(unit_id)
            passes, value = await facts.of(event.get("session_id"))
            if passes:
                current.add(event, value)
    last = current.finish() if current else None
    if last is not None:
        yield last


def _scan(
    db: Database, site_id: str, start: datetime, end: datetime, kinds: Sequence[str], field: str
) -> AsyncCursor[Document]:
    """One cursor over the events, sorted by (unit, at, _id), read in modest batches."""
    query = {"site_id": site_id, "kind": {"$in": list(kinds)}, "at": {"$gte": start, "$lt": end}}
    return db[events.COLLECTION].find(
        query,
        projection=dict.fromkeys(EVENT_FIELDS, 1),
        sort=[(field, 1), ("at", 1), ("_id", 1)],
        batch_size=SCAN_BATCH_SIZE,
        max_time_ms=SCAN_MAX_TIME_MS,
        allow_disk_use=True,
    )


async def session_details(
    db: Database, site_id: str, session_ids: Sequence[str]
) -> dict[str, Document]:
    """Visitor and replayability of a few sessions (a page), by the snippet's session id:
    one `_id` lookup each, which FerretDB pushes down, unlike `_id: {$in: …}`."""
    projection = {"session_id": 1, "visitor_id": 1, "replayable": 1}
    docs = await one_by_one(
        db[sessions.COLLECTION].find_one(
            {"_id": session_key(site_id, session_id)},
            projection=projection,
            max_time_ms=events.MAX_TIME_MS,
        )
        for session_id in dict.fromkeys(session_ids)
    )
    return {doc["session_id"]: doc for doc in docs if doc is not None}
