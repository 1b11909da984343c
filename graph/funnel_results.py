"""A funnel's numbers over a range: computed from the site's event blocks within a time
budget (`compute`), with per-step statistics, breakdowns and the sessions that dropped off.

Durations that may exceed 2^31 ms (a 90-day window) are `Float`s holding whole
milliseconds, since GraphQL's `Int` is 32 bits.
"""

import asyncio
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from time import monotonic
from typing import TypedDict

import strawberry

from core import funnels as core
from core.cursors import CursorKind
from core.epoch import epoch_ms
from core.funnel_columns import Scope, evaluate
from core.funnels import DroppedUnit, Unit
from graph.context import Context
from graph.errors import QueryTimeoutError, UserError
from graph.links import Link, replay_link
from graph.pagination import PageInfo, decode_cursor, encode_cursor, page_size
from graph.ranges import TimeRange
from storage import event_blocks
from storage import funnels as store
from storage.database import time_budget
from storage.errors import STORAGE_TIMEOUTS
from storage.ids import session_key
from storage.sites import SiteDocument

DROP_OFF_SAMPLE = 1000
DROPPED_CURSOR = CursorKind("FunnelStep.droppedSessions", int)
MAX_RESULTS_PER_REQUEST = 5
TOO_LONG = "The funnel took too long to compute; narrow the range or add filters."


strawberry.enum(
    Unit, name="FunnelUnit", description="Who is counted: each session, or each visitor."
)


@strawberry.enum(description="A session property to split a funnel's numbers by.")
class FunnelBreakdownBy(StrEnum):
    DEVICE_TYPE = "device_type"
    BROWSER = "browser"
    COUNTRY = "country"


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
    window = options.range
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
    budget_s = ctx.resources.settings.SIGHTLINE_FUNNEL_COMPUTE_BUDGET_S
    deadline = monotonic() + budget_s
    try:
        with time_budget(budget_s):
            block = await event_blocks.read_range(ctx.db, site["_id"], window.start, window.end)
        await asyncio.to_thread(evaluate, accumulator, block, scope, deadline)
    except TimeoutError:
        raise QueryTimeoutError(TOO_LONG) from None
    except STORAGE_TIMEOUTS:
        raise QueryTimeoutError(TOO_LONG) from None
    return FunnelResult.of(accumulator.result(), options, site["_id"])
