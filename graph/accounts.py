"""Accounts: sign-up, sign-in, the signed-in viewer, and changes to the account."""

import re
from datetime import datetime, timedelta

import strawberry

from core.credentials import digest, keyed_hash, new_session_token
from core.passwords import PasswordPolicyError
from graph.context import Context
from graph.errors import AuthenticationError, NotFoundError, UserError
from graph.names import checked_name
from graph.privacy import PrivacyRequest, enqueue_privacy_request
from graph.sites import MAX_SITES_PER_ACCOUNT, Site
from service.identity import Via
from storage import accounts, api_keys, auth_tokens, privacy_requests, sites
from storage.accounts import AccountDocument

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL_LENGTH = 254
LOGIN_FAILED = "Incorrect email or password."


@strawberry.type(description="A person who signs in to Sightline.")
class Account:
    id: strawberry.ID
    email: str
    name: str
    created_at: datetime

    @classmethod
    def from_document(cls, doc: AccountDocument) -> "Account":
        return cls(
            id=strawberry.ID(doc["_id"]),
            email=doc["email"],
            name=doc["name"],
            created_at=doc["created_at"],
        )

    @strawberry.field(description="The account's sites.")
    async def sites(self, info: strawberry.Info[Context, None]) -> list[Site]:
        docs = await sites.list_owned_sites(
            info.context.db, str(self.id), limit=MAX_SITES_PER_ACCOUNT
        )
        return [Site.from_document(doc) for doc in docs]


@strawberry.type(description="A signed-in session: send `token` as `Authorization: Bearer`.")
class AuthSession:
    token: str
    expires_at: datetime
    account: Account


def normalize_email(email: str) -> str:
    return email.strip().casefold()


def _valid_email(email: str) -> str:
    normalized = normalize_email(email)
    if len(normalized) > MAX_EMAIL_LENGTH or not _EMAIL.match(normalized):
        raise UserError("Enter a valid email address.")
    return normalized


async def _check_new_password(ctx: Context, password: str, email: str, name: str) -> None:
    """The one check every new password passes, wherever it is set."""
    own_words = [email, email.partition("@")[0], name, *name.split(), "sightline"]
    try:
        await ctx.resources.passwords.ensure_acceptable(password, own_words)
    except PasswordPolicyError as exc:
        raise UserError(str(exc)) from None


async def _start_session(ctx: Context, account: AccountDocument) -> AuthSession:
    token = new_session_token()
    lifetime = timedelta(hours=ctx.resources.settings.SIGHTLINE_SESSION_TTL_HOURS)
    expires_at = await auth_tokens.create_token(
        ctx.db, token_hash=digest(token), account_id=account["_id"], lifetime=lifetime
    )
    return AuthSession(token=token, expires_at=expires_at, account=Account.from_document(account))


async def _current_account(ctx: Context) -> AccountDocument:
    account = await accounts.find_by_id(ctx.db, ctx.caller.account_id)
    if account is None:
        raise NotFoundError("The account no longer exists.")
    return account


async def _verify_password(ctx: Context, account: AccountDocument, password: str) -> None:
    throttle = ctx.resources.login_throttle
    attempt = await throttle.admit(account["email"], ctx.client_address)
    if not await ctx.resources.passwords.verify(account["password_hash"], password):
        raise AuthenticationError("The password is incorrect.")
    await throttle.succeeded(attempt)


@strawberry.type
class AccountQuery:
    @strawberry.field(description="The signed-in account.")
    async def viewer(self, info: strawberry.Info[Context, None]) -> Account:
        return Account.from_document(await _current_account(info.context))


@strawberry.type
class AccountMutation:
    @strawberry.mutation(description="Create an account and sign in to it.")
    async def sign_up(
        self, info: strawberry.Info[Context, None], email: str, password: str, name: str
    ) -> AuthSession:
        ctx = info.context
        normalized, clean_name = _valid_email(email), checked_name(name)
        await _check_new_password(ctx, password, normalized, clean_name)
        password_hash = await ctx.resources.passwords.hash(password)
        try:
            account = await accounts.create_account(
                ctx.db, email=normalized, name=clean_name, password_hash=password_hash
            )
        except accounts.EmailTaken:
            raise UserError("An account with this email address already exists.") from None
        return await _start_session(ctx, account)

    @strawberry.mutation(description="Sign in; the same error for any wrong email or password.")
    async def log_in(
        self, info: strawberry.Info[Context, None], email: str, password: str
    ) -> AuthSession:
        ctx = info.context
        normalized = normalize_email(email)
        throttle = ctx.resources.login_throttle
        attempt = await throttle.admit(normalized, ctx.client_address)
        account = await accounts.find_by_email(ctx.db, normalized)
        stored_hash = account["password_hash"] if account else None
        if not await ctx.resources.passwords.verify(stored_hash, password) or account is None:
            raise AuthenticationError(LOGIN_FAILED)
        await throttle.succeeded(attempt)
        if ctx.resources.passwords.needs_rehash(account["password_hash"]):
            new_hash = await ctx.resources.passwords.hash(password)
            await accounts.set_password_hash(ctx.db, account["_id"], new_hash)
        return await _start_session(ctx, account)

    @strawberry.mutation(description="Revoke the token this request was made with.")
    async def log_out(self, info: strawberry.Info[Context, None]) -> bool:
        principal = info.context.caller
        await auth_tokens.revoke_token(info.context.db, principal.credential_hash)
        return True

    @strawberry.mutation(description="Change the name or email address of the account.")
    async def update_account(
        self,
        info: strawberry.Info[Context, None],
        name: str | None = None,
        email: str | None = None,
    ) -> Account:
        ctx = info.context
        account = await _current_account(ctx)
        new_name = checked_name(name) if name is not None else None
        new_email = _valid_email(email) if email is not None else None
        try:
            updated = await accounts.update_profile(
                ctx.db, account["_id"], name=new_name, email=new_email
            )
        except accounts.EmailTaken:
            raise UserError("An account with this email address already exists.") from None
        if updated is None:
            raise NotFoundError("The account no longer exists.")
        return Account.from_document(updated)

    @strawberry.mutation(description="Change the password; every other session is signed out.")
    async def change_password(
        self, info: strawberry.Info[Context, None], current_password: str, new_password: str
    ) -> bool:
        ctx = info.context
        principal = ctx.caller
        account = await _current_account(ctx)
        await _verify_password(ctx, account, current_password)
        await _check_new_password(ctx, new_password, account["email"], account["name"])
        new_hash = await ctx.resources.passwords.hash(new_password)
        await accounts.set_password_hash(ctx.db, account["_id"], new_hash)
        assert principal.via is Via.SESSION
        await auth_tokens.revoke_all_tokens(
            ctx.db, account["_id"], except_hash=principal.credential_hash
        )
        return True

    @strawberry.mutation(
        description="Delete the account: access ends now, its data is removed by a worker."
    )
    async def delete_account(
        self, info: strawberry.Info[Context, None], password: str
    ) -> PrivacyRequest:
        ctx = info.context
        account = await _current_account(ctx)
        await _verify_password(ctx, account, password)
        account_id = account["_id"]
        # Credentials first: a failure part-way leaves an account one can sign in to and
        # delete again, never a deleted account whose key still reads its sites.
        await auth_tokens.revoke_all_tokens(ctx.db, account_id)
        await api_keys.delete_account_keys(ctx.db, account_id)
        subject = keyed_hash(ctx.resources.settings.secret_key, f"account:{account_id}")
        request = await privacy_requests.create_request(
            ctx.db,
            kind="delete_account",
            subject_hash=subject,
            requested_by=subject,
            parameters={"account_id": account_id},
        )
        await accounts.delete_account(ctx.db, account_id)
        await enqueue_privacy_request(ctx, request["_id"])
        return PrivacyRequest.from_document(request)
