"""Object-level access: an object of another account looks like no object at all."""

from collections.abc import Mapping
from typing import TypeVar

from core.errors import NotFound
from service.identity import Principal
from storage import sites
from storage.database import Database
from storage.sites import SiteDocument

NO_SUCH_SITE = "No such site."

Owned = TypeVar("Owned", bound=Mapping[str, object])


async def owned_site(db: Database, caller: Principal, site_id: str) -> SiteDocument:
    """The caller's live site `site_id`, or NotFound (for missing and foreign alike)."""
    if not caller.can_see_site(site_id):
        raise NotFound(NO_SUCH_SITE)
    site = await sites.find_owned_site(db, caller.account_id, site_id)
    if site is None:
        raise NotFound(NO_SUCH_SITE)
    return site


async def on_owned_site(
    db: Database, caller: Principal, doc: Owned | None, not_found: str
) -> Owned:
    """`doc` when it belongs to one of the caller's sites; NotFound(`not_found`) when it
    is missing or belongs to someone else, so the two cannot be told apart."""
    site_id = None if doc is None else doc.get("site_id")
    if doc is None or not isinstance(site_id, str):
        raise NotFound(not_found)
    try:
        await owned_site(db, caller, site_id)
    except NotFound:
        raise NotFound(not_found) from None
    return doc
