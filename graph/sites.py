"""Sites: what an account records, its tracking key and its privacy settings."""

from datetime import datetime
from typing import Any

import strawberry

from core.credentials import keyed_hash
from core.domains import DomainError, normalize_domains
from core.rrweb.privacy import validate_selectors
from core.rrweb.selectors import SelectorError
from graph.context import Context
from graph.errors import ForbiddenError, NotFoundError, UserError
from graph.names import checked_name
from graph.ownership import owned_site
from graph.privacy import PrivacyRequest, enqueue_privacy_request
from graph.signals import SignalSettingsInput, SignalSettingsType, changed_signals
from service.ownership import NO_SUCH_SITE
from storage import privacy_requests, sites
from storage.sites import SiteDocument

MAX_SELECTORS = 50
MAX_RETENTION_DAYS = 3650
MAX_SITES_PER_ACCOUNT = 100


@strawberry.type(description="A website whose visits Sightline records.")
class Site:
    id: strawberry.ID
    name: str
    domains: list[str]
    tracking_key: str = strawberry.field(
        description="Public key the snippet sends; it only grants the right to send recordings."
    )
    record_inputs: bool
    mask_selectors: list[str]
    block_selectors: list[str]
    anonymize_ip: bool
    respect_do_not_track: bool
    retention_days: int
    created_at: datetime
    signals: SignalSettingsType

    @classmethod
    def from_document(cls, doc: SiteDocument) -> "Site":
        privacy = sites.privacy_of(doc)
        return cls(
            id=strawberry.ID(doc["_id"]),
            name=doc["name"],
            domains=doc["domains"],
            tracking_key=doc["tracking_key"],
            record_inputs=privacy["record_inputs"],
            mask_selectors=privacy["mask_selectors"],
            block_selectors=privacy["block_selectors"],
            anonymize_ip=privacy["anonymize_ip"],
            respect_do_not_track=privacy["respect_do_not_track"],
            retention_days=privacy["retention_days"],
            created_at=doc["created_at"],
            signals=SignalSettingsType.from_document(doc.get("signals")),
        )


@strawberry.input(description="Changes to a site; fields left out stay as they are.")
class SiteUpdate:
    name: str | None = None
    domains: list[str] | None = None
    record_inputs: bool | None = None
    mask_selectors: list[str] | None = None
    block_selectors: list[str] | None = None
    anonymize_ip: bool | None = None
    respect_do_not_track: bool | None = None
    retention_days: int | None = None
    signals: SignalSettingsInput | None = None


def _domains(domains: list[str]) -> list[str]:
    try:
        return normalize_domains(domains)
    except DomainError as exc:
        raise UserError(str(exc)) from None


def _selectors(selectors: list[str]) -> list[str]:
    if len(selectors) > MAX_SELECTORS:
        raise UserError(f"At most {MAX_SELECTORS} selectors are allowed.")
    try:
        return validate_selectors(selectors)
    except SelectorError as exc:
        raise UserError(str(exc)) from None


def _changes(update: SiteUpdate, site: SiteDocument) -> dict[str, Any]:
    changes = _privacy_changes(update)
    if update.signals is not None:
        signals = changed_signals(site.get("signals"), update.signals)
        if signals is not None:
            changes["signals"] = signals
    if update.name is not None:
        changes["name"] = checked_name(update.name)
    if update.domains is not None:
        changes["domains"] = _domains(update.domains)
    return changes


def _privacy_changes(update: SiteUpdate) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for field in ("record_inputs", "anonymize_ip", "respect_do_not_track"):
        value = getattr(update, field)
        if value is not None:
            changes[f"privacy.{field}"] = value
    for field in ("mask_selectors", "block_selectors"):
        value = getattr(update, field)
        if value is not None:
            changes[f"privacy.{field}"] = _selectors(value)
    if update.retention_days is not None:
        if not 1 <= update.retention_days <= MAX_RETENTION_DAYS:
            raise UserError(f"Retention must be 1 to {MAX_RETENTION_DAYS} days.")
        changes["privacy.retention_days"] = update.retention_days
    return changes


def _updated(doc: SiteDocument | None) -> Site:
    if doc is None:
        raise NotFoundError(NO_SUCH_SITE)
    return Site.from_document(doc)


@strawberry.type
class SiteQuery:
    @strawberry.field(description="The sites the caller can see.")
    async def sites(self, info: strawberry.Info[Context, None]) -> list[Site]:
        principal = info.context.caller
        docs = await sites.list_owned_sites(
            info.context.db, principal.account_id, principal.site_ids, limit=MAX_SITES_PER_ACCOUNT
        )
        return [Site.from_document(doc) for doc in docs]

    @strawberry.field(description="One site, by id.")
    async def site(self, info: strawberry.Info[Context, None], id: strawberry.ID) -> Site:
        return Site.from_document(await owned_site(info.context, str(id)))


@strawberry.type
class SiteMutation:
    @strawberry.mutation(description="Create a site; it starts with private defaults.")
    async def create_site(
        self, info: strawberry.Info[Context, None], name: str, domains: list[str]
    ) -> Site:
        principal = info.context.caller
        if principal.site_ids is not None:
            raise ForbiddenError("An API key limited to some sites cannot create sites.")
        owned = await sites.list_owned_sites(
            info.context.db, principal.account_id, limit=MAX_SITES_PER_ACCOUNT
        )
        if len(owned) >= MAX_SITES_PER_ACCOUNT:
            raise UserError(f"An account can have at most {MAX_SITES_PER_ACCOUNT} sites.")
        doc = await sites.create_site(
            info.context.db,
            account_id=principal.account_id,
            name=checked_name(name),
            domains=_domains(domains),
        )
        return Site.from_document(doc)

    @strawberry.mutation(description="Change a site's name, domains or privacy settings.")
    async def update_site(
        self, info: strawberry.Info[Context, None], id: strawberry.ID, changes: SiteUpdate
    ) -> Site:
        site = await owned_site(info.context, str(id))
        values = _changes(changes, site)
        if not values:
            return Site.from_document(site)
        info.context.resources.site_cache.forget(site["tracking_key"])
        return _updated(await sites.update_site(info.context.db, site["_id"], values))

    @strawberry.mutation(description="Replace the tracking key; the old one stops working at once.")
    async def rotate_tracking_key(
        self, info: strawberry.Info[Context, None], site_id: strawberry.ID
    ) -> Site:
        site = await owned_site(info.context, str(site_id))
        info.context.resources.site_cache.forget(site["tracking_key"])
        return _updated(await sites.rotate_tracking_key(info.context.db, site["_id"]))

    @strawberry.mutation(
        description="Delete a site: access ends now, its data is removed by a worker."
    )
    async def delete_site(
        self, info: strawberry.Info[Context, None], site_id: strawberry.ID
    ) -> PrivacyRequest:
        ctx = info.context
        site = await owned_site(ctx, str(site_id))
        principal = ctx.caller
        await sites.mark_deleted(ctx.db, site["_id"])
        ctx.resources.site_cache.forget(site["tracking_key"])
        request = await privacy_requests.create_request(
            ctx.db,
            kind="delete_site",
            subject_hash=keyed_hash(ctx.resources.settings.secret_key, f"site:{site['_id']}"),
            requested_by=principal.account_id,
            site_id=site["_id"],
        )
        await enqueue_privacy_request(ctx, request["_id"])
        return PrivacyRequest.from_document(request)
