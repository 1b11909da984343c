"""API keys for third-party integrations."""

from datetime import datetime

import strawberry

from core.credentials import api_key_hint, digest, new_api_key
from graph.context import Context
from graph.errors import NotFoundError, UserError
from graph.names import MAX_KEY_NAME_LENGTH, checked_name
from graph.sites import MAX_SITES_PER_ACCOUNT
from service.scopes import Scope
from storage import api_keys, sites

MAX_KEYS_PER_ACCOUNT = 100

strawberry.enum(Scope, name="ApiScope", description="A permission an API key can hold.")


@strawberry.type(description="An API key; its secret is shown only when it is created.")
class ApiKey:
    id: strawberry.ID
    name: str
    hint: str = strawberry.field(description="The prefix and last characters, e.g. sl_live_…Ab3x.")
    scopes: list[Scope]
    site_ids: list[strawberry.ID] | None = strawberry.field(
        description="Sites the key is limited to; null means every site of the account."
    )
    created_at: datetime
    last_used_at: datetime | None = strawberry.field(
        description="When the key was last used, updated at most once an hour."
    )

    @classmethod
    def from_document(cls, doc: api_keys.ApiKeyDocument) -> "ApiKey":
        site_ids = doc.get("site_ids")
        return cls(
            id=strawberry.ID(doc["_id"]),
            name=doc["name"],
            hint=doc["hint"],
            scopes=[Scope(s) for s in doc["scopes"]],
            site_ids=[strawberry.ID(s) for s in site_ids] if site_ids is not None else None,
            created_at=doc["created_at"],
            last_used_at=doc.get("last_used_at"),
        )


@strawberry.type(description="A new API key and its secret, which is never shown again.")
class CreatedApiKey:
    api_key: ApiKey
    secret: str


@strawberry.type
class ApiKeyQuery:
    @strawberry.field(description="The API keys of the signed-in account.")
    async def api_keys(self, info: strawberry.Info[Context, None]) -> list[ApiKey]:
        principal = info.context.caller
        docs = await api_keys.list_api_keys(info.context.db, principal.account_id)
        return [ApiKey.from_document(doc) for doc in docs]


@strawberry.type
class ApiKeyMutation:
    @strawberry.mutation(description="Create an API key; the response holds its only copy.")
    async def create_api_key(
        self,
        info: strawberry.Info[Context, None],
        name: str,
        scopes: list[Scope],
        site_ids: list[strawberry.ID] | None = None,
    ) -> CreatedApiKey:
        ctx = info.context
        principal = ctx.caller
        clean_name = checked_name(name, MAX_KEY_NAME_LENGTH)
        if not scopes:
            raise UserError("Give the key at least one scope.")
        wanted = sorted({str(s) for s in site_ids}) if site_ids is not None else None
        if wanted is not None and len(wanted) > MAX_SITES_PER_ACCOUNT:
            raise UserError(f"A key can name at most {MAX_SITES_PER_ACCOUNT} sites.")
        if wanted is not None:
            owned = await sites.owned_site_ids(ctx.db, principal.account_id, wanted)
            if set(wanted) - owned:
                raise NotFoundError("One of the sites does not exist.")
        if len(await api_keys.list_api_keys(ctx.db, principal.account_id)) >= MAX_KEYS_PER_ACCOUNT:
            raise UserError(f"An account can have at most {MAX_KEYS_PER_ACCOUNT} API keys.")
        secret = new_api_key()
        doc = await api_keys.create_api_key(
            ctx.db,
            account_id=principal.account_id,
            name=clean_name,
            key_hash=digest(secret),
            hint=api_key_hint(secret),
            scopes=sorted({Scope(s).value for s in scopes}),
            site_ids=wanted,
        )
        return CreatedApiKey(api_key=ApiKey.from_document(doc), secret=secret)

    @strawberry.mutation(description="Revoke an API key; it stops working on the next request.")
    async def revoke_api_key(self, info: strawberry.Info[Context, None], id: strawberry.ID) -> bool:
        principal = info.context.caller
        revoked = await api_keys.revoke_api_key(
            info.context.db, account_id=principal.account_id, key_id=str(id)
        )
        if not revoked:
            raise NotFoundError("No such API key.")
        return True
