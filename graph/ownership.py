"""Object-level access: an object of another account looks like no object at all."""

from collections.abc import Mapping
from typing import TypeVar

from graph.context import Context
from graph.errors import NotFoundError
from storage import sites
from storage.sites import SiteDocument

NO_SUCH_SITE = "No such site."

Owned = TypeVar("Owned", bound=Mapping[str, object])


async def owned_site(ctx: Context, site_id: str) -> SiteDocument:
    """The caller's live site `site_id`, or NotFoundError (for missing and foreign alike)."""
    principal = ctx.principal
    if principal is None or not principal.can_see_site(site_id):
        raise NotFoundError(NO_SUCH_SITE)
    site = await sites.find_owned_site(ctx.db, principal.account_id, site_id)
    if site is None:
        raise NotFoundError(NO_SUCH_SITE)
    return site


async def on_owned_site(ctx: Context, doc: Owned | None, not_found: str) -> Owned:
    """`doc` when it belongs to one of the caller's sites; NotFoundError(`not_found`) when it
    is missing or belongs to someone else, so the two cannot be told apart."""
    site_id = None if doc is None else doc.get("site_id")
    if doc is None or not isinstance(site_id, str):
        raise NotFoundError(not_found)
    try:
        await owned_site(ctx, site_id)
    except NotFoundError:
        raise NotFoundError(not_found) from None
    return doc
