"""Saved funnels, the session conditions of a result, and the sessions of a drop-off page.

A saved funnel keeps its definition as a plain document (see `definition_document`).
Results are computed from the site's funnel event blocks (`storage.event_blocks`,
evaluated by `core.funnel_columns`).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict, cast

from pymongo import ReturnDocument

from core.elements import ElementSelector, SelectorMatch
from core.funnels import (
    DEFAULT_WINDOW_MS,
    EventType,
    Exclusion,
    FunnelDefinition,
    MatchOp,
    Step,
    StepMatcher,
    UrlMatcher,
)
from core.rrweb.selectors import SelectorError
from storage import sessions
from storage.database import Database, Document, one_by_one, query_time_ms
from storage.ids import new_id, session_key

COLLECTION = "funnels"
MAX_FUNNELS_PER_SITE = 200
BREAKDOWN_FIELDS = ("device_type", "browser", "country")


# Definitions as documents.


class UrlDocument(TypedDict):
    field: str  # "url" or "path"
    op: str  # a MatchOp value
    value: str


class MatcherDocument(TypedDict, total=False):
    """A step's or an exclusion's conditions: only those given are stored."""

    url: UrlDocument
    selector: str
    text_contains: str
    name: str
    selector_match: str  # a SelectorMatch value; stored with `selector` (absent on old funnels)


class ExclusionDocument(MatcherDocument):
    type: str  # an EventType value


class StepDocument(ExclusionDocument, total=False):
    label: str
    max_ms_from_previous: int
    exclusions: list[ExclusionDocument]


class DefinitionDocument(TypedDict):
    """A funnel definition as stored (`definition_of` also reads older, partial ones)."""

    steps: list[StepDocument]
    conversion_window_ms: int


class FunnelDocument(TypedDict):
    """A saved funnel as stored."""

    _id: str
    site_id: str
    name: str
    definition: DefinitionDocument
    created_at: datetime
    updated_at: datetime


def definition_document(definition: FunnelDefinition) -> DefinitionDocument:
    """The stored form of a (validated) definition: plain values, absent fields left out."""
    return {
        "steps": [_step_document(step) for step in definition.steps],
        "conversion_window_ms": definition.conversion_window_ms,
    }


def _step_document(step: Step) -> StepDocument:
    doc: StepDocument = {"type": step.type.value}
    _add_matcher(doc, step.matcher)
    if step.label is not None:
        doc["label"] = step.label
    if step.max_ms_from_previous is not None:
        doc["max_ms_from_previous"] = step.max_ms_from_previous
    if step.exclusions:
        doc["exclusions"] = [_exclusion_document(item) for item in step.exclusions]
    return doc


def _exclusion_document(exclusion: Exclusion) -> ExclusionDocument:
    doc: ExclusionDocument = {"type": exclusion.type.value}
    _add_matcher(doc, exclusion.matcher)
    return doc


def _add_matcher(doc: MatcherDocument, matcher: StepMatcher) -> None:
    """Set the conditions `matcher` gives on `doc`."""
    if matcher.url is not None:
        url = matcher.url
        doc["url"] = {"field": url.field, "op": url.op.value, "value": url.value}
    if matcher.selector is not None:
        doc["selector"] = matcher.selector
    if matcher.text_contains is not None:
        doc["text_contains"] = matcher.text_contains
    if matcher.name is not None:
        doc["name"] = matcher.name
    if matcher.selector is not None:
        doc["selector_match"] = matcher.selector_match.value


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


async def create_funnel(
    db: Database, *, site_id: str, name: str, definition: DefinitionDocument
) -> FunnelDocument:
    now = datetime.now(UTC)
    funnel: FunnelDocument = {
        "_id": new_id(),
        "site_id": site_id,
        "name": name,
        "definition": definition,
        "created_at": now,
        "updated_at": now,
    }
    await db[COLLECTION].insert_one(dict(funnel))
    return funnel


async def count_funnels(db: Database, site_id: str) -> int:
    return await db[COLLECTION].count_documents({"site_id": site_id})


async def find_funnel(db: Database, funnel_id: str) -> FunnelDocument | None:
    """A funnel by id, whatever its site: the caller checks that the site is theirs."""
    return cast(FunnelDocument | None, await db[COLLECTION].find_one({"_id": funnel_id}))


async def list_funnels(
    db: Database, site_id: str, *, limit: int = MAX_FUNNELS_PER_SITE
) -> list[FunnelDocument]:
    """A site's funnels, oldest first."""
    cursor = db[COLLECTION].find({"site_id": site_id}, sort=[("_id", 1)], limit=limit)
    return cast(list[FunnelDocument], await cursor.to_list(None))


async def update_funnel(
    db: Database, site_id: str, funnel_id: str, changes: Document
) -> FunnelDocument | None:
    funnel = await db[COLLECTION].find_one_and_update(
        {"_id": funnel_id, "site_id": site_id},
        {"$set": {**changes, "updated_at": datetime.now(UTC)}},
        return_document=ReturnDocument.AFTER,
    )
    return cast(FunnelDocument | None, funnel)


async def delete_funnel(db: Database, site_id: str, funnel_id: str) -> bool:
    result = await db[COLLECTION].delete_one({"_id": funnel_id, "site_id": site_id})
    return result.deleted_count == 1


# Streaming units.


@dataclass(frozen=True)
class SessionFilter:
    """Conditions on the sessions a result counts (their facts, as event blocks keep them);
    every one given must hold."""

    device_type: str | None = None
    browser: str | None = None
    country: str | None = None

    def conditions(self) -> dict[str, str]:
        return {name: value for name, value in vars(self).items() if value is not None}


class SessionDetail(TypedDict):
    """What a drop-off page shows of a session (`session_details`)."""

    _id: str
    session_id: str
    visitor_id: str
    replayable: NotRequired[bool]  # absent until extraction ran


async def session_details(
    db: Database, site_id: str, session_ids: Sequence[str]
) -> dict[str, SessionDetail]:
    """Visitor and replayability of a few sessions (a page), by the snippet's session id:
    one `_id` lookup each, which FerretDB pushes down, unlike `_id: {$in: …}`."""
    projection = {"session_id": 1, "visitor_id": 1, "replayable": 1}
    docs = await one_by_one(
        db[sessions.COLLECTION].find_one(
            {"_id": session_key(site_id, session_id)},
            projection=projection,
            max_time_ms=query_time_ms(db),
        )
        for session_id in dict.fromkeys(session_ids)
    )
    return {doc["session_id"]: cast(SessionDetail, doc) for doc in docs if doc is not None}
