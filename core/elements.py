"""The element an event is about, kept so that users' CSS selectors match it semantically.

Events keep `selector`, a CSS path written for people ("html > body > form#checkout >
button.add"), and `element_path`: the element then its ancestors up to the root (at most
`MAX_PATH` elements, nearest first), each a small document with its tag (`t`), id (`i`),
classes (`c`) and the attributes of `KEPT_ATTRIBUTES` (`a`) it has, empty ones left out.

A selector is matched either as CSS (`SelectorMatch.CSS`, the default) with the subset of
`core.rrweb.selectors` (type, `*`, `#id`, `.class`, attribute tests, descendant and child
combinators, comma lists), attribute tests naming only attributes that are kept, or as the
exact stored string (`SelectorMatch.EXACT`). So `button.add`, `.add`, `#buy`, `form > button`,
`div button` and `[data-testid=buy]` all match a click on `<button class="add primary"
data-testid="buy">` inside a form inside a div.

Events stored before paths were kept have only `selector`: it is parsed back into a path (it is
a chain of `tag#id.class` parts joined by " > "), so they match too, except for attributes,
which it never held, and for ancestors above an element with an id, where it stops.
"""

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import cssselect
import orjson
from cssselect import parser as css

from core.rrweb.selectors import Compound, SelectorError, SelectorList, parse_selector_list

MAX_PATH = 32
MAX_NAME_LENGTH = 100
MAX_CLASSES = 16
MAX_ATTRIBUTE_LENGTH = 100
# Attributes that name what an element is for (test ids, accessible names, form roles), as
# opposed to its state or content: `value` (what a visitor typed) and `href` (the event's
# own `href` field) are left out.
KEPT_ATTRIBUTES = ("name", "type", "role", "data-testid", "aria-label")
_MATCHABLE_ATTRIBUTES = frozenset({"id", "class", *KEPT_ATTRIBUTES})
_KEY_SEPARATOR = "\n"


class SelectorMatch(StrEnum):
    """How a selector condition compares with an event's element."""

    CSS = "css"
    EXACT = "exact"


@dataclass(frozen=True, slots=True)
class PathElement:
    """One element of a path, read by `core.rrweb.selectors` like a recorded node."""

    tag_name: str
    attributes: Mapping[str, object] = field(default_factory=dict)

    @property
    def is_element(self) -> bool:
        return True


Path = tuple[PathElement, ...]


def element_document(
    tag: str, ident: str | None, classes: Sequence[str], attributes: Mapping[str, object]
) -> dict[str, Any]:
    """One element's entry in `element_path`: names cut, empty parts left out."""
    doc: dict[str, Any] = {"t": tag[:MAX_NAME_LENGTH]}
    if ident:
        doc["i"] = ident[:MAX_NAME_LENGTH]
    kept_classes = [name[:MAX_NAME_LENGTH] for name in classes[:MAX_CLASSES]]
    if kept_classes:
        doc["c"] = kept_classes
    kept = {
        name: value[:MAX_ATTRIBUTE_LENGTH]
        for name in KEPT_ATTRIBUTES
        if isinstance(value := attributes.get(name), str)
    }
    if kept:
        doc["a"] = kept
    return doc


def element_key(selector: str, element_path: list[dict[str, Any]] | None) -> str:
    """A name for counting clicks per element (heatmap top elements) that keeps what a CSS
    selector needs: the selector, then a newline and the path as JSON. JSON never holds a raw
    newline, so the last one splits them; a bare selector is a key too (older counters)."""
    if not element_path:
        return selector
    return selector + _KEY_SEPARATOR + orjson.dumps(element_path).decode()


def event_of_key(key: str) -> dict[str, Any]:
    """The `selector` (and `element_path`) an `element_key` was made of, as an event holds
    them, for `ElementSelector.matches`."""
    selector, separator, tail = key.rpartition(_KEY_SEPARATOR)
    if separator and tail.startswith("["):
        try:
            path = orjson.loads(tail)
        except orjson.JSONDecodeError:
            path = None
        if isinstance(path, list):
            return {"selector": selector, "element_path": path}
    return {"selector": key}


def path_of(event: Mapping[str, Any]) -> Path | None:
    """The event's element and ancestors: from `element_path`, else parsed back from the
    `selector` of an event stored before paths were kept; None when there is neither."""
    stored = event.get("element_path")
    if isinstance(stored, list) and stored:
        return tuple(_element_of(item) for item in stored if isinstance(item, Mapping))
    selector = event.get("selector")
    return path_from_selector(selector) if isinstance(selector, str) else None


def _element_of(doc: Mapping[str, Any]) -> PathElement:
    tag, ident, classes, kept = doc.get("t"), doc.get("i"), doc.get("c"), doc.get("a")
    attributes: dict[str, object] = dict(kept) if isinstance(kept, Mapping) else {}
    if isinstance(ident, str):
        attributes["id"] = ident
    if isinstance(classes, list):
        attributes["class"] = " ".join(name for name in classes if isinstance(name, str))
    return PathElement(tag if isinstance(tag, str) else "", attributes)


@functools.lru_cache(maxsize=4096)
def path_from_selector(text: str) -> Path | None:
    """The path a stored selector describes (`tag#id.class:nth-of-type(k)` parts joined by
    " > ", as `workers.extraction.selector` writes them), nearest first; None when `text` is
    not such a chain (say a selector a page sent with a custom submit event)."""
    try:
        [parsed] = cssselect.parse(text)
    except (css.SelectorSyntaxError, ValueError):
        return None
    elements: list[PathElement] = []
    tree: css.Tree = parsed.parsed_tree
    while isinstance(tree, css.CombinedSelector):
        if tree.combinator != ">":
            return None
        elements.append(_parsed_element(tree.subselector))
        tree = tree.selector
    elements.append(_parsed_element(tree))
    return tuple(elements)


def _parsed_element(tree: css.Tree) -> PathElement:
    """A compound's tag, id and classes; the `:nth-of-type` the extractor adds plays no part."""
    attributes: dict[str, object] = {}
    classes: list[str] = []
    while not isinstance(tree, css.Element):
        if isinstance(tree, css.Hash):
            attributes["id"] = tree.id
        elif isinstance(tree, css.Class):
            classes.append(tree.class_name)
        tree = tree.selector
    if classes:
        attributes["class"] = " ".join(reversed(classes))
    return PathElement(tree.element.lower() if tree.element else "", attributes)


_MEMO_SIZE = 4096


@dataclass(frozen=True)
class ElementSelector:
    """A selector condition, compiled once: `matches` then costs no parsing per event."""

    text: str
    how: SelectorMatch
    selectors: SelectorList

    @classmethod
    def parse(cls, text: str, how: SelectorMatch = SelectorMatch.CSS) -> "ElementSelector":
        """Raises SelectorError, with a message for the person who typed `text`."""
        if how == SelectorMatch.EXACT:
            return cls(text, how, SelectorList())
        selectors = parse_selector_list(text)
        for compound in _compounds(selectors):
            _check_attributes(text, compound)
        return cls(text, how, selectors)

    def matches(self, event: Mapping[str, Any]) -> bool:
        if self.how == SelectorMatch.EXACT:
            return event.get("selector") == self.text
        stored = event.get("element_path")
        if not (isinstance(stored, list) and stored):
            selector = event.get("selector")
            return isinstance(selector, str) and self._matches_stored_selector(selector)
        if not self._may_match(stored):
            return False
        path = path_of(event)
        return bool(path) and self.selectors.matches_path(path or ())

    def _matches_stored_selector(self, selector: str) -> bool:
        """An event stored before paths were kept: a site has few distinct selectors, so
        each is matched once (the memo is dropped when it grows past `_MEMO_SIZE`)."""
        memo = self._memo
        found = memo.get(selector)
        if found is None:
            path = path_from_selector(selector)
            found = bool(path) and self.selectors.matches_path(path or ())
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            memo[selector] = found
        return found

    @functools.cached_property
    def _memo(self) -> dict[str, bool]:
        return {}

    def _may_match(self, stored: list[Any]) -> bool:
        """Whether the clicked element itself matches a subject: most events fail here,
        before their ancestors are decoded (a funnel tests every event of its range)."""
        if not isinstance(stored[0], Mapping):
            return True
        own = _element_of(stored[0])
        return any(subject.matches(own) for subject in self._subjects)

    @functools.cached_property
    def _subjects(self) -> tuple[Compound, ...]:
        return self.subjects()

    def subjects(self) -> tuple[Compound, ...]:
        """The compound each selector's element must match itself (the rightmost one)."""
        return tuple(selector.compounds[0] for selector in self.selectors.selectors)


def _compounds(selectors: SelectorList) -> list[Compound]:
    return [compound for selector in selectors.selectors for compound in selector.compounds]


def _check_attributes(text: str, compound: Compound) -> None:
    for test in compound.attributes:
        if test.name.lower() not in _MATCHABLE_ATTRIBUTES:
            kept = ", ".join(sorted(_MATCHABLE_ATTRIBUTES))
            raise SelectorError(
                f"Unsupported selector {text!r}: the attribute [{test.name}] is not recorded "
                f"on events (recorded: {kept})."
            )
