"""The CSS selector subset that site owners may use in privacy settings, matched on a NodeTable.

Supported: type selectors, `*`, `#id`, `.class`, `[a]`, `[a=v]`, `[a~=v]`, `[a^=v]`, `[a$=v]`,
`[a*=v]`, compound selectors, the descendant (space) and child (`>`) combinators, and
comma-separated lists, up to MAX_SELECTOR_LENGTH characters and MAX_COMPOUNDS compounds in a
row. Anything else raises SelectorError naming the unsupported part.

Parsing uses cssselect, because its tokenizer already handles CSS escapes, quoting and error
positions correctly, so this module only translates its tree and refuses what we cannot match.

Matching follows HTML rules as rrweb records them: tag names compare case-insensitively,
classes and ids case-sensitively, attribute names exactly or else in lower case (HTML
attributes are recorded in lower case). Only string attribute values take part in value tests.
The recorded tree is matched as one tree: shadow roots and same-origin iframes do not stop
the descendant combinator, which can only make privacy rules match more, never less.

The same selectors also match an element given as a path (`matches_path`: the element then its
ancestors, nearest first), as analytics events keep them (`core.elements`).
"""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import cssselect
from cssselect import parser as css

from core.rrweb.dom import NodeTable

MAX_SELECTOR_LENGTH = 1000
MAX_COMPOUNDS = 32
_SUPPORTED = (
    "supported: tag, *, #id, .class, [attr], [attr=value], [attr~=value], [attr^=value], "
    "[attr$=value], [attr*=value], descendant (space) and child (>) combinators, commas"
)
_ATTRIBUTE_OPERATORS = frozenset({"exists", "=", "~=", "^=", "$=", "*="})
_IDENT = re.compile(r"\bident\b")
_TOKEN = re.compile(r"<(?:EOF|(\w+) '((?:[^'\\]|\\.)*)') at (\d+)>")


class Element(Protocol):
    """What a compound selector reads of an element: a recorded `Node`, or one element of a
    path kept on an event."""

    @property
    def is_element(self) -> bool: ...

    @property
    def tag_name(self) -> str: ...

    @property
    def attributes(self) -> Mapping[str, object]: ...


class SelectorError(ValueError):
    """A selector that cannot be parsed or uses something this subset does not support."""


@dataclass(frozen=True, slots=True)
class AttributeTest:
    name: str
    operator: str
    value: str = ""

    def matches(self, attributes: Mapping[str, object]) -> bool:
        actual = attributes.get(self.name)
        if actual is None:
            actual = attributes.get(self.name.lower())
        if self.operator == "exists":
            return actual is not None
        return isinstance(actual, str) and _compare(self.operator, actual, self.value)


def _compare(operator: str, actual: str, expected: str) -> bool:
    if operator == "=":
        return actual == expected
    if not expected:
        return False
    if operator == "~=":
        return expected in actual.split()
    if operator == "^=":
        return actual.startswith(expected)
    if operator == "$=":
        return actual.endswith(expected)
    return expected in actual


@dataclass(frozen=True, slots=True)
class Compound:
    """A compound selector: an optional tag (None for `*`) plus id, class and attribute tests."""

    tag: str | None = None
    ids: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    attributes: tuple[AttributeTest, ...] = ()

    def matches(self, node: Element) -> bool:
        if not node.is_element or (self.tag is not None and node.tag_name != self.tag):
            return False
        attributes = node.attributes
        if any(attributes.get("id") != wanted for wanted in self.ids):
            return False
        if self.classes and not _has_classes(attributes.get("class"), self.classes):
            return False
        return all(test.matches(attributes) for test in self.attributes)


def _has_classes(value: object, wanted: tuple[str, ...]) -> bool:
    if not isinstance(value, str):
        return False
    present = value.split()
    return all(name in present for name in wanted)


@dataclass(frozen=True, slots=True)
class ComplexSelector:
    """Compounds from the subject (rightmost) leftwards; combinators[i] joins compounds[i]
    to compounds[i + 1], and is " " (descendant) or ">" (child)."""

    compounds: tuple[Compound, ...]
    combinators: tuple[str, ...]

    def matches(self, table: NodeTable, node_id: int) -> bool:
        return self._matches_from(table, node_id, 0)

    def _matches_from(self, table: NodeTable, node_id: int, index: int) -> bool:
        node = table.get(node_id)
        if node is None or not self.compounds[index].matches(node):
            return False
        if index == len(self.combinators):
            return True
        if self.combinators[index] == ">":
            return node.parent is not None and self._matches_from(table, node.parent, index + 1)
        ancestor = node.parent
        while ancestor is not None:
            if self._matches_from(table, ancestor, index + 1):
                return True
            ancestor = table.parent_id(ancestor)
        return False

    def matches_path(self, path: Sequence[Element]) -> bool:
        """Whether `path[0]` matches, `path[1:]` being its ancestors nearest first (an ancestor
        the path does not reach matches nothing). Each (position, compound) pair is tried at
        most once, so a hostile `div div div ...` stays polynomial."""
        failed: set[tuple[int, int]] = set()

        def match(position: int, index: int) -> bool:
            if position >= len(path) or (position, index) in failed:
                return False
            if self.compounds[index].matches(path[position]) and (
                index == len(self.combinators) or self._above(position, index, match, len(path))
            ):
                return True
            failed.add((position, index))
            return False

        return match(0, 0)

    def _above(
        self, position: int, index: int, match: Callable[[int, int], bool], depth: int
    ) -> bool:
        if self.combinators[index] == ">":
            return match(position + 1, index + 1)
        return any(match(up, index + 1) for up in range(position + 1, depth))


@dataclass(frozen=True, slots=True)
class SelectorList:
    """A parsed, comma-separated selector list; matches when any of its selectors does."""

    selectors: tuple[ComplexSelector, ...] = ()

    def __len__(self) -> int:
        return len(self.selectors)

    def __add__(self, other: "SelectorList") -> "SelectorList":
        return SelectorList(self.selectors + other.selectors)

    def subjects(self) -> "SelectorList":
        """The rightmost compound of each selector that has combinators: all that can be
        checked of them on a node whose ancestors are unknown."""
        return SelectorList(
            tuple(ComplexSelector(s.compounds[:1], ()) for s in self.selectors if s.combinators)
        )

    def matches(self, table: NodeTable, node_id: int) -> bool:
        """Whether the element `node_id` matches (False for unknown ids and non-elements)."""
        return any(selector.matches(table, node_id) for selector in self.selectors)

    def matches_path(self, path: Sequence[Element]) -> bool:
        """Whether the element `path[0]`, with ancestors `path[1:]`, matches."""
        return any(selector.matches_path(path) for selector in self.selectors)

    def matches_self_or_ancestor(self, table: NodeTable, node_id: int) -> bool:
        """Whether `node_id` or one of its ancestors matches, like the DOM's `closest()`."""
        current: int | None = node_id
        while current is not None:
            if self.matches(table, current):
                return True
            current = table.parent_id(current)
        return False


def parse_selector_list(text: str) -> SelectorList:
    """Parse `text`; raise SelectorError with a message meant for the person who typed it."""
    if not text.strip():
        raise SelectorError("The selector is empty.")
    if len(text) > MAX_SELECTOR_LENGTH:
        raise SelectorError(
            f"The selector {text[:40]!r}... is too long (at most {MAX_SELECTOR_LENGTH} characters)."
        )
    try:
        parsed = cssselect.parse(text)
    except css.SelectorSyntaxError as error:
        raise SelectorError(f"Invalid selector {text!r}: {_describe(error)}.") from None
    try:
        return SelectorList(tuple(_translate(selector) for selector in parsed))
    except _Unsupported as error:
        raise SelectorError(
            f"Unsupported selector {text!r}: {error.args[0]} is not supported ({_SUPPORTED})."
        ) from None


def _describe(error: css.SelectorSyntaxError) -> str:
    """cssselect's message with its token reprs (`<DELIM '>' at 0>`) made readable."""

    def token(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "the end of the text"
        return f"{match.group(2)!r} at character {int(match.group(3)) + 1}"

    message = _TOKEN.sub(token, str(error)).replace("Expected selector", "expected a selector")
    return _IDENT.sub("name", message[:1].lower() + message[1:])


class _Unsupported(Exception):
    """Carries the description of an unsupported part, e.g. "the pseudo-class ':hover'"."""


def _translate(selector: css.Selector) -> ComplexSelector:
    if selector.pseudo_element is not None:
        raise _Unsupported(f"the pseudo-element '::{_pseudo_name(selector.pseudo_element)}'")
    tree: css.Tree = selector.parsed_tree
    compounds, combinators = [], []
    while isinstance(tree, css.CombinedSelector):
        if tree.combinator not in (" ", ">"):
            raise _Unsupported(f"the combinator {tree.combinator!r}")
        compounds.append(_compound(tree.subselector))
        combinators.append(tree.combinator)
        tree = tree.selector
    compounds.append(_compound(tree))
    if len(compounds) > MAX_COMPOUNDS:
        raise _Unsupported(f"a chain of more than {MAX_COMPOUNDS} compound selectors")
    return ComplexSelector(tuple(compounds), tuple(combinators))


def _pseudo_name(element: css.PseudoElement) -> str:
    return element if isinstance(element, str) else f"{element.name}()"


def _compound(tree: css.Tree) -> Compound:
    ids: list[str] = []
    classes: list[str] = []
    attributes: list[AttributeTest] = []
    while not isinstance(tree, css.Element):
        if isinstance(tree, css.Hash):
            ids.append(tree.id)
        elif isinstance(tree, css.Class):
            classes.append(tree.class_name)
        elif isinstance(tree, css.Attrib):
            attributes.append(_attribute_test(tree))
        else:
            raise _Unsupported(_describe_unsupported(tree))
        tree = tree.selector
    if tree.namespace is not None:
        raise _Unsupported(f"the namespace prefix '{tree.namespace}|'")
    tag = tree.element.lower() if tree.element else None
    return Compound(tag, tuple(reversed(ids)), tuple(reversed(classes)), tuple(attributes))


def _attribute_test(tree: css.Attrib) -> AttributeTest:
    if tree.namespace is not None:
        raise _Unsupported(f"the namespace prefix '{tree.namespace}|' in [{tree.attrib}]")
    if tree.operator not in _ATTRIBUTE_OPERATORS:
        raise _Unsupported(f"the attribute operator '{tree.operator}' in [{tree.attrib}]")
    if tree.flag is not None:
        raise _Unsupported(f"the attribute flag '{tree.flag}' in [{tree.attrib}]")
    value = "" if tree.value is None else str(tree.value.value)
    return AttributeTest(tree.attrib, tree.operator, value)


def _describe_unsupported(tree: css.Tree) -> str:
    if isinstance(tree, css.Pseudo):
        return f"the pseudo-class ':{tree.ident}'"
    names = {
        css.Negation: "not",
        css.Relation: "has",
        css.Matching: "is",
        css.SpecificityAdjustment: "where",
    }
    name = tree.name if isinstance(tree, css.Function) else names.get(type(tree), "?")
    return f"the pseudo-class ':{name}()'"
