"""Object-level access for resolvers: `service.ownership`'s checks, for the context's caller."""

from graph.context import Context
from service import ownership
from service.ownership import Owned
from storage.sites import SiteDocument


async def owned_site(ctx: Context, site_id: str) -> SiteDocument:
    return await ownership.owned_site(ctx.db, ctx.caller, site_id)


async def on_owned_site(ctx: Context, doc: Owned | None, not_found: str) -> Owned:
    return await ownership.on_owned_site(ctx.db, ctx.caller, doc, not_found)
