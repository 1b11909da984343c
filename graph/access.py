"""The one place that decides who may call which operation, and read which field.

Every root field of the schema (each query and mutation) has an entry in
`RULES`, and so does every field below the roots that opens data of another
scope than the operations reaching it: a link to a recording or an export, or
a saved funnel's numbers reached through a write. A key's scopes would mean
little if `funnelResult` (analytics) handed out replay links (recordings).
`protect` attaches the check to each of them (`service.access.admit`, the one
HTTP routes use too), and refuses to build a schema in which an operation, or a
field returning a `Link`, has no rule. A refused field is null with a FORBIDDEN
error; the rest of the answer stands. Checks on individual objects (is this
site the caller's?) go through `graph.ownership`.
"""

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types.base import StrawberryContainer, StrawberryObjectDefinition
from strawberry.types.field import StrawberryField
from strawberry.types.union import StrawberryUnion

from graph.context import Context
from graph.links import Link
from service.access import ANYONE, PERSON, Rule, admit, scoped
from service.identity import Principal
from service.scopes import Scope

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
    # Below the roots.
    "Session.replayUrl": scoped(Scope.RECORDINGS_READ),
    "DroppedSession.replayUrl": scoped(Scope.RECORDINGS_READ),
    "PrivacyRequest.downloadUrl": scoped(Scope.PRIVACY),
    "Funnel.result": scoped(Scope.ANALYTICS_READ),  # also reached by createFunnel, updateFunnel
}


class MissingRule(RuntimeError):
    """An operation, or a field returning a link, was added without an access rule."""


def require(context: Context, rule: Rule) -> Principal | None:
    """Return the caller allowed by `rule`, or raise the error the caller should see."""
    return admit(context.principal, context.auth_failure, rule)


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
    """Attach the access check to every root field, and to every field below them with a rule.

    Refuses (`MissingRule`) a root field or a `Link` field without a rule.
    """
    roots = {name: root for name, root in root_types.items() if root is not None}
    for type_name, root in roots.items():
        for field in _definition(root).fields:
            _protect_field(type_name, field, rules, required=True)
    for definition in _reachable(list(roots.values())):
        for field in definition.fields:
            _protect_field(definition.name, field, rules, required=_returns_link(field))


def _protect_field(
    type_name: str, field: StrawberryField, rules: dict[str, Rule], *, required: bool
) -> None:
    name = f"{type_name}.{field.graphql_name or _camel(field.python_name)}"
    rule = rules.get(name)
    if rule is None:
        if required:
            raise MissingRule(f"{name} has no entry in graph.access.RULES")
        return
    if not any(isinstance(ext, AccessCheck) for ext in field.extensions):
        field.extensions.append(AccessCheck(rule))


def _definition(cls: type) -> StrawberryObjectDefinition:
    definition: StrawberryObjectDefinition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    return definition


def _reachable(roots: list[type]) -> list[StrawberryObjectDefinition]:
    """The output object types below the roots, each once."""
    seen = {id(root) for root in roots}
    found: list[StrawberryObjectDefinition] = []
    pending = list(roots)
    while pending:
        for field in _definition(pending.pop()).fields:
            for cls in _object_types(field.type):
                if id(cls) not in seen:
                    seen.add(id(cls))
                    found.append(_definition(cls))
                    pending.append(cls)
    return found


def _object_types(annotation: Any) -> Iterator[type]:
    while isinstance(annotation, StrawberryContainer):
        annotation = annotation.of_type
    if isinstance(annotation, StrawberryUnion):
        for member in annotation.types:
            yield from _object_types(member)
        return
    definition = getattr(annotation, "__strawberry_definition__", None)
    if isinstance(definition, StrawberryObjectDefinition) and not definition.is_input:
        yield annotation


def _returns_link(field: StrawberryField) -> bool:
    annotation = field.type
    while isinstance(annotation, StrawberryContainer):
        annotation = annotation.of_type
    return annotation is Link


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
