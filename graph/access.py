"""The one place that decides who may call which operation.

Every root field of the schema (each query and mutation) has an entry in
`RULES`; `protect` attaches the check to each of them, and refuses to build a
schema in which an operation has no rule. Checks on individual objects (is
this site the caller's?) go through `graph.ownership`.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types.field import StrawberryField

from graph.auth import Principal, Via
from graph.context import Context
from graph.errors import AuthenticationError, ForbiddenError
from graph.scopes import Scope


class Audience(Enum):
    ANYONE = "anyone"
    PERSON = "person"  # a signed-in account, never an API key
    SCOPED = "scoped"  # a signed-in account, or an API key holding `scope`


@dataclass(frozen=True)
class Rule:
    audience: Audience
    scope: Scope | None = None


ANYONE = Rule(Audience.ANYONE)
PERSON = Rule(Audience.PERSON)


def scoped(scope: Scope) -> Rule:
    return Rule(Audience.SCOPED, scope)


RULES: dict[str, Rule] = {
    "Query.apiVersion": ANYONE,
    "Query.viewer": PERSON,
    "Query.apiKeys": PERSON,
    "Mutation.signUp": ANYONE,
    "Mutation.logIn": ANYONE,
    "Mutation.logOut": PERSON,
    "Mutation.updateAccount": PERSON,
    "Mutation.changePassword": PERSON,
    "Mutation.deleteAccount": PERSON,
    "Mutation.createApiKey": PERSON,
    "Mutation.revokeApiKey": PERSON,
    "Query.sites": scoped(Scope.SITES_READ),
    "Query.site": scoped(Scope.SITES_READ),
    "Mutation.createSite": scoped(Scope.SITES_WRITE),
    "Mutation.updateSite": scoped(Scope.SITES_WRITE),
    "Mutation.rotateTrackingKey": scoped(Scope.SITES_WRITE),
    "Mutation.deleteSite": scoped(Scope.SITES_WRITE),
    "Query.sessions": scoped(Scope.RECORDINGS_READ),
    "Query.session": scoped(Scope.RECORDINGS_READ),
    "Query.visitor": scoped(Scope.RECORDINGS_READ),
    "Query.events": scoped(Scope.ANALYTICS_READ),
    "Query.eventCounts": scoped(Scope.ANALYTICS_READ),
    "Mutation.recomputeSignals": scoped(Scope.ANALYTICS_WRITE),
    "Query.funnels": scoped(Scope.ANALYTICS_READ),
    "Query.funnel": scoped(Scope.ANALYTICS_READ),
    "Query.funnelResult": scoped(Scope.ANALYTICS_READ),
    "Mutation.createFunnel": scoped(Scope.ANALYTICS_WRITE),
    "Mutation.updateFunnel": scoped(Scope.ANALYTICS_WRITE),
    "Mutation.deleteFunnel": scoped(Scope.ANALYTICS_WRITE),
    "Query.heatmap": scoped(Scope.ANALYTICS_READ),
    "Query.privacyRequests": scoped(Scope.PRIVACY),
    "Query.privacyRequest": scoped(Scope.PRIVACY),
    "Mutation.eraseVisitor": scoped(Scope.PRIVACY),
    "Mutation.eraseRecordings": scoped(Scope.PRIVACY),
    "Mutation.exportVisitor": scoped(Scope.PRIVACY),
    "Mutation.scanRecordings": scoped(Scope.PRIVACY),
}


class MissingRule(RuntimeError):
    """An operation was added without an access rule."""


def require(context: Context, rule: Rule) -> Principal | None:
    """Return the caller allowed by `rule`, or raise the error the caller should see."""
    if rule.audience is Audience.ANYONE:
        return context.principal
    principal = context.principal
    if principal is None:
        raise AuthenticationError(context.auth_failure or "Sign in or use an API key.")
    if rule.audience is Audience.PERSON and principal.via is not Via.SESSION:
        raise ForbiddenError("API keys cannot manage accounts or keys; sign in instead.")
    if rule.scope is not None and rule.scope not in principal.scopes:
        raise ForbiddenError(f"This API key lacks the scope '{rule.scope.value}'.")
    return principal


class AccessCheck(FieldExtension):
    def __init__(self, rule: Rule) -> None:
        self.rule = rule

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: strawberry.Info, **kwargs: Any
    ) -> Any:
        require(info.context, self.rule)
        return next_(source, info, **kwargs)

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: strawberry.Info,
        **kwargs: Any,
    ) -> Any:
        require(info.context, self.rule)
        return await next_(source, info, **kwargs)


def protect(root_types: dict[str, type | None], rules: dict[str, Rule]) -> None:
    """Attach the access check to every field of the given root types."""
    for type_name, root in root_types.items():
        if root is None:
            continue
        for field in root.__strawberry_definition__.fields:  # type: ignore[attr-defined]
            _protect_field(type_name, field, rules)


def _protect_field(type_name: str, field: StrawberryField, rules: dict[str, Rule]) -> None:
    name = f"{type_name}.{field.graphql_name or _camel(field.python_name)}"
    rule = rules.get(name)
    if rule is None:
        raise MissingRule(f"{name} has no entry in graph.access.RULES")
    if not any(isinstance(ext, AccessCheck) for ext in field.extensions):
        field.extensions.append(AccessCheck(rule))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
