"""Conversion funnels: saved funnels of a site (create, update, delete, list) and their
results on demand.

The numbers follow `core.funnels` (its docstring states the semantics): a definition comes
in through `graph.funnel_definitions`, and `graph.funnel_results` reads the site's funnel
events as column blocks (`storage.event_blocks`), evaluates them with
`core.funnel_columns` within a time budget, and shapes the result. Only events inside the
requested range count, for every step.
"""

from datetime import datetime

import strawberry

from core import funnels as core
from core.funnels import Unit
from graph.context import Context
from graph.errors import NotFoundError, UserError
from graph.funnel_definitions import FunnelDefinitionInput, FunnelStepDefinition
from graph.funnel_results import (
    FunnelBreakdownBy,
    FunnelFilter,
    FunnelResult,
    ResultOptions,
    compute,
)
from graph.names import checked_name
from graph.ownership import on_owned_site, owned_site
from graph.ranges import TimeRange
from storage import funnels as store
from storage.database import Document

NO_SUCH_FUNNEL = "No such funnel."


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
