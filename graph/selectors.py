"""Selector conditions in GraphQL: the `SelectorMatch` enum and parsing a condition once."""

import strawberry

from core.elements import ElementSelector, SelectorMatch
from core.rrweb.selectors import SelectorError
from graph.errors import UserError

__all__ = ["SelectorMatch", "element_selector"]

strawberry.enum(
    SelectorMatch,
    name="SelectorMatch",
    description="How `selector` is compared: CSS matches the element and its ancestors as a "
    "CSS selector (`button.add`, `#buy`, `form > button`, `[data-testid=x]`); EXACT compares "
    "the stored selector string.",
)


def element_selector(text: str, how: SelectorMatch | None) -> ElementSelector:
    """`text` compiled for matching; a UserError that says what is wrong with it."""
    try:
        return ElementSelector.parse(text, SelectorMatch(how or SelectorMatch.CSS))
    except SelectorError as exc:
        raise UserError(str(exc)) from None
