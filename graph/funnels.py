"""Conversion funnels: saved definitions, and their results over a site's events.

The numbers follow `core.funnels` (its docstring states the semantics); this module turns
GraphQL input into a `FunnelDefinition`, reads the site's funnel events as column blocks
(`storage.event_blocks`), evaluates them with `core.funnel_columns`, and shapes the result.
Only events inside the requested range count, for every step. Durations that may exceed
2^31 ms (a 90-day window) are `Float`s holding whole milliseconds, since GraphQL's `Int` is 32 bits.
"""

import asyncio
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from time import monotonic
from typing import Protocol, TypedDict

import strawberry

from core import funnels as core
from core.cursors import CursorKind
from core.epoch import epoch_ms
from core.funnel_columns import Scope, evaluate
from core.funnels import DroppedUnit, EventType, MatchOp, Unit
from graph.context import Context
from graph.errors import NotFoundError, QueryTimeoutError, UserError
from graph.links import Link, replay_link
from graph.names import checked_name
from graph.ownership import on_owned_site, owned_site
from graph.pagination import PageInfo, decode_cursor, encode_cursor, page_size
from graph.ranges import TimeRange
from graph.selectors import SelectorMatch
from storage import event_blocks
from storage import funnels as store
from storage.database import Document, time_budget
from storage.errors import STORAGE_TIMEOUTS
from storage.ids import session_key
from storage.sites import SiteDocument

NO_SUCH_FUNNEL = "No such funnel."
DROP_OFF_SAMPLE = 1000
DROPPED_CURSOR = CursorKind("FunnelStep.droppedSessions", int)
MAX_RESULTS_PER_REQUEST = 5
COMPUTE_BUDGET_S = 30.0
TOO_LONG = "The funnel took too long to compute; narrow the range or add filters."

strawberry.enum(EventType, name="FunnelEventType", description="What a funnel step matches.")
strawberry.enum(MatchOp, name="UrlMatchOp", description="How a URL or path is compared.")
strawberry.enum(
    Unit, name="FunnelUnit", description="Who is counted: each session, or each visitor."
)


@strawberry.enum(description="Which part of the address a URL condition looks at.")
class UrlField(StrEnum):
    URL = "url"
    PATH = "path"


@strawberry.enum(description="A session property to split a funnel's numbers by.")
class FunnelBreakdownBy(StrEnum):
    DEVICE_TYPE = "device_type"
    BROWSER = "browser"
    COUNTRY = "country"


# Definitions, in and out.


@strawberry.input(description="A condition on the event's URL or path (`regex`: a search).")
class UrlMatchInput:
    field: UrlField
    op: MatchOp
    value: str

    def to_core(self) -> core.UrlMatcher:
        field = UrlField(self.field)
        return core.UrlMatcher(
            "url" if field == UrlField.URL else "path", MatchOp(self.op), self.value
        )


class _Conditions(Protocol):
    url_match: UrlMatchInput | None
    selector: str | None
    selector_match: SelectorMatch
    text_contains: str | None
    name: str | None


def _matcher(source: _Conditions) -> core.StepMatcher:
    return core.StepMatcher(
        url=source.url_match.to_core() if source.url_match else None,
        selector=source.selector,
        text_contains=source.text_contains,
        name=source.name,
        selector_match=SelectorMatch(source.selector_match),
    )


@strawberry.input(description="An event that must not happen between the previous step and this.")
class FunnelExclusionInput:
    type: EventType
    url_match: UrlMatchInput | None = None
    selector: str | None = None
    selector_match: SelectorMatch = SelectorMatch.CSS
    text_contains: str | None = strawberry.field(default=None, description="Case-insensitive.")
    name: str | None = strawberry.field(default=None, description="A custom event's name.")

    def to_core(self) -> core.Exclusion:
        return core.Exclusion(EventType(self.type), _matcher(self))


@strawberry.input(description="One step: an event type and conditions the event must all meet.")
class FunnelStepInput:
    type: EventType
    url_match: UrlMatchInput | None = None
    selector: str | None = None
    selector_match: SelectorMatch = SelectorMatch.CSS
    text_contains: str | None = strawberry.field(default=None, description="Case-insensitive.")
    name: str | None = strawberry.field(default=None, description="A custom event's name.")
    label: str | None = None
    max_ms_from_previous: float | None = strawberry.field(
        default=None, description="Whole milliseconds, at most 90 days; not for step 1."
    )
    exclusions: list[FunnelExclusionInput] | None = strawberry.field(
        default=None, description="Not for step 1."
    )

    def to_core(self) -> core.Step:
        gap = self.max_ms_from_previous
        return core.Step(
            type=EventType(self.type),
            matcher=_matcher(self),
            label=self.label,
            max_ms_from_previous=None if gap is None else _whole_ms("maxMsFromPrevious", gap),
            exclusions=tuple(item.to_core() for item in self.exclusions or ()),
        )


@strawberry.input(description="2 to 20 steps, in the order they must happen.")
class FunnelDefinitionInput:
    steps: list[FunnelStepInput]
    conversion_window_ms: float | None = strawberry.field(
        default=None, description="Whole milliseconds; 24 hours when left out, at most 90 days."
    )

    def to_core(self) -> core.FunnelDefinition:
        window = self.conversion_window_ms
        try:
            return core.FunnelDefinition(
                steps=tuple(step.to_core() for step in self.steps),
                conversion_window_ms=(
                    core.DEFAULT_WINDOW_MS
                    if window is None
                    else _whole_ms("conversionWindowMs", window)
                ),
            ).validate()
        except core.FunnelError as exc:
            raise UserError(str(exc)) from None


def _whole_ms(name: str, value: float) -> int:
    if not float(value).is_integer():
        raise UserError(f"{name} must be a whole number of milliseconds.")
    return int(value)


@strawberry.type
class UrlMatch:
    field: UrlField
    op: MatchOp
    value: str


def _url_match(matcher: core.StepMatcher) -> UrlMatch | None:
    url = matcher.url
    return UrlMatch(field=UrlField(url.field), op=url.op, value=url.value) if url else None


@strawberry.type
class FunnelExclusion:
    type: EventType
    url_match: UrlMatch | None
    selector: str | None
    selector_match: SelectorMatch
    text_contains: str | None
    name: str | None

    @classmethod
    def of(cls, exclusion: core.Exclusion) -> "FunnelExclusion":
        matcher = exclusion.matcher
        return cls(
            type=exclusion.type,
            url_match=_url_match(matcher),
            selector=matcher.selector,
            selector_match=matcher.selector_match,
            text_contains=matcher.text_contains,
            name=matcher.name,
        )


@strawberry.type(description="One step of a saved funnel, as defined.")
class FunnelStepDefinition:
    type: EventType
    url_match: UrlMatch | None
    selector: str | None
    selector_match: SelectorMatch
    text_contains: str | None
    name: str | None
    label: str | None
    max_ms_from_previous: float | None
    exclusions: list[FunnelExclusion]

    @classmethod
    def of(cls, step: core.Step) -> "FunnelStepDefinition":
        matcher = step.matcher
        return cls(
            type=step.type,
            url_match=_url_match(matcher),
            selector=matcher.selector,
            selector_match=matcher.selector_match,
            text_contains=matcher.text_contains,
            name=matcher.name,
            label=step.label,
            max_ms_from_previous=step.max_ms_from_previous,
            exclusions=[FunnelExclusion.of(item) for item in step.exclusions],
        )


# Results.


@strawberry.input(description="Only sessions with every given property count.")
class FunnelFilter:
    device_type: str | None = None
    browser: str | None = None
    country: str | None = None

    def to_storage(self) -> store.SessionFilter:
        return store.SessionFilter(**vars(self))


@strawberry.type(description="A unit that reached a step but not the next one.")
class DroppedSession:
    session_id: str = strawberry.field(description="The session of the last step reached.")
    unit_id: str = strawberry.field(description="The session id, or the visitor id.")
    visitor_id: str | None
    last_step_at: datetime
    replay_session: strawberry.Private[str | None]

    @strawberry.field(
        description="A signed link (valid 15 minutes) to the session's rrweb events; "
        "null when the recording cannot be replayed."
    )
    def replay_url(self, info: strawberry.Info[Context, None]) -> Link | None:
        if self.replay_session is None:
            return None
        return replay_link(info.context.resources.settings, self.replay_session)


@strawberry.type
class DroppedSessionConnection:
    nodes: list[DroppedSession]
    page_info: PageInfo
    total_count: int = strawberry.field(
        description=f"Every unit that dropped here; pages cover the first {DROP_OFF_SAMPLE}."
    )


@strawberry.type(description="How many units reached a step, and how long they took.")
class FunnelStepStats:
    index: int
    label: str
    entered: int
    conversion_from_first: float
    conversion_from_previous: float
    dropped: int = strawberry.field(description="Reached the previous step but not this one.")
    median_ms_from_previous: float | None
    p90_ms_from_previous: float | None

    @staticmethod
    def values(step: core.StepResult) -> "_StatValues":
        return {
            "index": step.index,
            "label": step.label,
            "entered": step.entered,
            "conversion_from_first": step.conversion_from_first,
            "conversion_from_previous": step.conversion_from_previous,
            "dropped": step.dropped,
            "median_ms_from_previous": step.median_ms_from_previous,
            "p90_ms_from_previous": step.p90_ms_from_previous,
        }


class _StatValues(TypedDict):
    index: int
    label: str
    entered: int
    conversion_from_first: float
    conversion_from_previous: float
    dropped: int
    median_ms_from_previous: float | None
    p90_ms_from_previous: float | None


@strawberry.type(description="A step's numbers, and the units that dropped off before it.")
class FunnelStep(FunnelStepStats):
    site_id: strawberry.Private[str]
    dropped_units: strawberry.Private[list[DroppedUnit]]

    @strawberry.field(
        description="Who dropped off before this step, by the time of their last step."
    )
    async def dropped_sessions(
        self,
        info: strawberry.Info[Context, None],
        first: int | None = None,
        after: str | None = None,
    ) -> DroppedSessionConnection:
        limit = page_size(first)
        units = self.dropped_units
        secret = info.context.resources.settings.secret_key
        start = bisect_right([_drop_key(unit) for unit in units], _after_key(secret, after))
        page = units[start : start + limit]
        nodes = await _dropped_nodes(info.context, self.site_id, page)
        end = encode_cursor(secret, DROPPED_CURSOR, *_drop_key(page[-1])) if page else None
        return DroppedSessionConnection(
            nodes=nodes,
            page_info=PageInfo(has_next_page=start + limit < len(units), end_cursor=end),
            total_count=self.dropped,
        )


def _drop_key(unit: DroppedUnit) -> tuple[int, str]:
    """The order of drop-off lists: last step time in whole ms, unit id."""
    return epoch_ms(unit.last_step_at), unit.unit_id


def _after_key(secret: bytes, after: str | None) -> tuple[int, str]:
    if after is None:
        return -(2**63), ""
    value, unit_id = decode_cursor(secret, DROPPED_CURSOR, after)
    return value, unit_id


async def _dropped_nodes(
    ctx: Context, site_id: str, page: list[DroppedUnit]
) -> list[DroppedSession]:
    details = await store.session_details(ctx.db, site_id, [unit.session_id for unit in page])
    nodes = []
    for unit in page:
        found = details.get(unit.session_id)
        replayable = found is not None and found.get("replayable", True)
        nodes.append(
            DroppedSession(
                session_id=unit.session_id,
                unit_id=unit.unit_id,
                visitor_id=found.get("visitor_id") if found else None,
                last_step_at=unit.last_step_at,
                replay_session=session_key(site_id, unit.session_id) if replayable else None,
            )
        )
    return nodes


@strawberry.type(description="A breakdown value's per-step numbers.")
class FunnelBreakdown:
    value: str = strawberry.field(description='The session property, or "(none)".')
    steps: list[FunnelStepStats]


@strawberry.type(description="A funnel's numbers over a range.")
class FunnelResult:
    total_units: int = strawberry.field(
        description="Units with at least one event of the funnel's kinds in the range."
    )
    unit: Unit
    steps: list[FunnelStep]
    breakdown: list[FunnelBreakdown] = strawberry.field(
        description="Empty unless `breakdownBy` was given."
    )

    @classmethod
    def of(
        cls, result: core.FunnelResult, options: "ResultOptions", site_id: str
    ) -> "FunnelResult":
        steps = [
            FunnelStep(
                **FunnelStepStats.values(step),
                site_id=site_id,
                dropped_units=step.dropped_units,
            )
            for step in result.steps
        ]
        breakdown = [
            FunnelBreakdown(
                value=value,
                steps=[FunnelStepStats(**FunnelStepStats.values(row)) for row in rows],
            )
            for value, rows in result.breakdown.items()
        ]
        return cls(
            total_units=result.total_units,
            unit=options.unit,
            steps=steps,
            breakdown=breakdown if options.breakdown_by else [],
        )


@dataclass(frozen=True)
class ResultOptions:
    range: TimeRange
    unit: Unit = Unit.SESSIONS
    filter: FunnelFilter | None = None
    breakdown_by: FunnelBreakdownBy | None = None


def _count_result(ctx: Context) -> None:
    """At most a few funnel computations per request (a list of funnels with results)."""
    state = ctx.request.state
    done = getattr(state, "funnel_results", 0)
    if done >= MAX_RESULTS_PER_REQUEST:
        raise UserError(f"At most {MAX_RESULTS_PER_REQUEST} funnel results per request.")
    state.funnel_results = done + 1


async def compute(
    ctx: Context, site: SiteDocument, definition: core.FunnelDefinition, options: ResultOptions
) -> FunnelResult:
    """The funnel's numbers over the (owned) site's events in the range, within a budget."""
    window = options.range.checked()
    _count_result(ctx)
    try:
        accumulator = core.FunnelAccumulator(definition, drop_off_sample=DROP_OFF_SAMPLE)
    except core.FunnelError as exc:  # a funnel saved under older rules, say a `re` pattern
        raise UserError(str(exc)) from None
    session_filter = options.filter.to_storage() if options.filter else store.SessionFilter()
    scope = Scope(
        start_ms=epoch_ms(window.start),
        end_ms=epoch_ms(window.end),
        unit=Unit(options.unit),
        wanted=session_filter.conditions(),
        breakdown=FunnelBreakdownBy(options.breakdown_by).value if options.breakdown_by else None,
    )
    deadline = monotonic() + COMPUTE_BUDGET_S
    try:
        if COMPUTE_BUDGET_S <= 0:
            raise TimeoutError
        with time_budget(COMPUTE_BUDGET_S):
            block = await event_blocks.read_range(ctx.db, site["_id"], window.start, window.end)
        await asyncio.to_thread(evaluate, accumulator, block, scope, deadline)
    except TimeoutError:
        raise QueryTimeoutError(TOO_LONG) from None
    except STORAGE_TIMEOUTS:
        raise QueryTimeoutError(TOO_LONG) from None
    return FunnelResult.of(accumulator.result(), options, site["_id"])


# Saved funnels.


@strawberry.type(description="A saved funnel of a site.")
class Funnel:
    id: strawberry.ID
    site_id: strawberry.ID
    name: str
    steps: list[FunnelStepDefinition]
    conversion_window_ms: float = strawberry.field(description="Whole milliseconds.")
    created_at: datetime
    updated_at: datetime
    definition: strawberry.Private[core.FunnelDefinition]

    @strawberry.field(
        description="The funnel's numbers over a range (at most 400 days); null, with an "
        "error, for a caller without `analytics:read`, so a mutation's answer still stands."
    )
    async def result(
        self,
        info: strawberry.Info[Context, None],
        range: TimeRange,
        unit: Unit | None = None,
        filter: FunnelFilter | None = None,
        breakdown_by: FunnelBreakdownBy | None = None,
    ) -> FunnelResult | None:
        site = await owned_site(info.context, str(self.site_id))
        options = ResultOptions(range, unit or Unit.SESSIONS, filter, breakdown_by)
        return await compute(info.context, site, self.definition, options)

    @classmethod
    def from_document(cls, doc: store.FunnelDocument) -> "Funnel":
        definition = store.definition_of(doc["definition"])
        return cls(
            id=strawberry.ID(doc["_id"]),
            site_id=strawberry.ID(doc["site_id"]),
            name=doc["name"],
            steps=[FunnelStepDefinition.of(step) for step in definition.steps],
            conversion_window_ms=definition.conversion_window_ms,
            created_at=doc["created_at"],
            updated_at=doc["updated_at"],
            definition=definition,
        )


async def _owned_funnel(ctx: Context, funnel_id: str) -> store.FunnelDocument:
    """The caller's funnel, or NotFoundError (for missing and foreign alike)."""
    return await on_owned_site(ctx, await store.find_funnel(ctx.db, funnel_id), NO_SUCH_FUNNEL)


@strawberry.type
class FunnelQuery:
    @strawberry.field(description="A site's saved funnels, oldest first.")
    async def funnels(
        self, info: strawberry.Info[Context, None], site_id: strawberry.ID
    ) -> list[Funnel]:
        site = await owned_site(info.context, str(site_id))
        docs = await store.list_funnels(info.context.db, site["_id"])
        return [Funnel.from_document(doc) for doc in docs]

    @strawberry.field(description="One saved funnel, by id.")
    async def funnel(self, info: strawberry.Info[Context, None], id: strawberry.ID) -> Funnel:
        return Funnel.from_document(await _owned_funnel(info.context, str(id)))

    @strawberry.field(description="An unsaved funnel's numbers over a range (at most 400 days).")
    async def funnel_result(
        self,
        info: strawberry.Info[Context, None],
        site_id: strawberry.ID,
        definition: FunnelDefinitionInput,
        range: TimeRange,
        unit: Unit | None = None,
        filter: FunnelFilter | None = None,
        breakdown_by: FunnelBreakdownBy | None = None,
    ) -> FunnelResult:
        site = await owned_site(info.context, str(site_id))
        options = ResultOptions(range, unit or Unit.SESSIONS, filter, breakdown_by)
        return await compute(info.context, site, definition.to_core(), options)


@strawberry.type
class FunnelMutation:
    @strawberry.mutation(description="Save a funnel for a site.")
    async def create_funnel(
        self,
        info: strawberry.Info[Context, None],
        site_id: strawberry.ID,
        name: str,
        definition: FunnelDefinitionInput,
    ) -> Funnel:
        ctx = info.context
        site = await owned_site(ctx, str(site_id))
        cleaned, checked = checked_name(name), definition.to_core()
        if await store.count_funnels(ctx.db, site["_id"]) >= store.MAX_FUNNELS_PER_SITE:
            raise UserError(f"A site can have at most {store.MAX_FUNNELS_PER_SITE} funnels.")
        doc = await store.create_funnel(
            ctx.db,
            site_id=site["_id"],
            name=cleaned,
            definition=store.definition_document(checked),
        )
        return Funnel.from_document(doc)

    @strawberry.mutation(description="Rename a funnel or replace its definition.")
    async def update_funnel(
        self,
        info: strawberry.Info[Context, None],
        id: strawberry.ID,
        name: str | None = None,
        definition: FunnelDefinitionInput | None = None,
    ) -> Funnel:
        ctx = info.context
        doc = await _owned_funnel(ctx, str(id))
        changes: Document = {}
        if name is not None:
            changes["name"] = checked_name(name)
        if definition is not None:
            changes["definition"] = store.definition_document(definition.to_core())
        if not changes:
            return Funnel.from_document(doc)
        updated = await store.update_funnel(ctx.db, doc["site_id"], doc["_id"], changes)
        if updated is None:
            raise NotFoundError(NO_SUCH_FUNNEL)
        return Funnel.from_document(updated)

    @strawberry.mutation(description="Delete a saved funnel.")
    async def delete_funnel(self, info: strawberry.Info[Context, None], id: strawberry.ID) -> bool:
        ctx = info.context
        doc = await _owned_funnel(ctx, str(id))
        if not await store.delete_funnel(ctx.db, doc["site_id"], doc["_id"]):
            raise NotFoundError(NO_SUCH_FUNNEL)
        return True
