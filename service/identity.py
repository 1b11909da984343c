"""Who is calling: the principal behind an `Authorization: Bearer ...` header."""

from dataclasses import dataclass
from enum import StrEnum

from core.credentials import (
    API_KEY_PREFIX,
    SESSION_PREFIX,
    digest,
    is_well_formed_api_key,
)
from core.errors import Unauthenticated
from service.scopes import ALL_SCOPES, Scope
from storage import api_keys, auth_tokens
from storage.database import Database

INVALID_CREDENTIALS = "The credentials are invalid or have expired."
NO_CREDENTIALS = "Sign in or use an API key."


class Via(StrEnum):
    SESSION = "session"
    API_KEY = "api_key"


@dataclass(frozen=True)
class Principal:
    account_id: str
    via: Via
    credential_hash: str
    key_id: str | None = None
    scopes: frozenset[Scope] = ALL_SCOPES
    site_ids: frozenset[str] | None = None  # None: every site of the account

    def can_see_site(self, site_id: str) -> bool:
        return self.site_ids is None or site_id in self.site_ids


@dataclass(frozen=True)
class Authentication:
    principal: Principal | None = None
    failure: str | None = None


def identified(principal: Principal | None, failure: str | None) -> Principal:
    """The caller, or the authentication error they should see: why their credentials
    were refused (`failure`), or that they gave none."""
    if principal is None:
        raise Unauthenticated(failure or NO_CREDENTIALS)
    return principal


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(db: Database, header: str | None) -> Authentication:
    if not header:
        return Authentication()
    token = bearer_token(header)
    if token is None:
        return Authentication(failure="Use the header `Authorization: Bearer <token>`.")
    principal = None
    if token.startswith(SESSION_PREFIX):
        principal = await _session(db, token)
    elif token.startswith(API_KEY_PREFIX) and is_well_formed_api_key(token):
        principal = await _api_key(db, token)
    if principal is None:
        return Authentication(failure=INVALID_CREDENTIALS)
    return Authentication(principal=principal)


async def _session(db: Database, token: str) -> Principal | None:
    token_hash = digest(token)
    found = await auth_tokens.find_valid_token(db, token_hash)
    if found is None:
        return None
    return Principal(account_id=found["account_id"], via=Via.SESSION, credential_hash=token_hash)


async def _api_key(db: Database, key: str) -> Principal | None:
    key_hash = digest(key)
    found = await api_keys.find_by_hash(db, key_hash)
    if found is None:
        return None
    if api_keys.last_use_is_stale(found.get("last_used_at")):
        await api_keys.touch_last_used(db, found["_id"])
    site_ids = found.get("site_ids")
    return Principal(
        account_id=found["account_id"],
        via=Via.API_KEY,
        credential_hash=key_hash,
        key_id=found["_id"],
        scopes=frozenset(Scope(s) for s in found["scopes"] if s in Scope._value2member_map_),
        site_ids=frozenset(site_ids) if site_ids is not None else None,
    )
