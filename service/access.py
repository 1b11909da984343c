"""Who may call what: the rule an operation has, and the one check of a caller against it.

GraphQL attaches a rule to every operation (`graph/access.py`); an HTTP route checks
its own with the same `admit`, so a route and a resolver serving the same data
cannot disagree about who may read it.
"""

from dataclasses import dataclass
from enum import Enum

from core.errors import Forbidden
from service.identity import Principal, Via, identified
from service.scopes import Scope


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


def admit(principal: Principal | None, failure: str | None, rule: Rule) -> Principal | None:
    """The caller allowed by `rule` (None only for ANYONE without credentials), or raise
    the error the caller should see. `failure` is why their credentials were refused."""
    if rule.audience is Audience.ANYONE:
        return principal
    caller = identified(principal, failure)
    permit(caller, rule)
    return caller


def permit(caller: Principal, rule: Rule) -> None:
    """Raise `Forbidden` unless `caller` is in `rule`'s audience and holds its scope."""
    if rule.audience is Audience.PERSON and caller.via is not Via.SESSION:
        raise Forbidden("API keys cannot manage accounts or keys; sign in instead.")
    if rule.scope is not None and rule.scope not in caller.scopes:
        raise Forbidden(f"This API key lacks the scope '{rule.scope.value}'.")
