"""CSS selectors matched on the element paths events keep, against a brute-force matcher that
walks generated trees directly (it shares no code with `core.elements` or cssselect)."""

from dataclasses import dataclass
from itertools import count
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.elements import ElementSelector, SelectorMatch, element_key, event_of_key
from core.rrweb.dom import NodeTable
from workers.extraction.selector import element_path, selector_of

TAGS = ("div", "form", "button", "span")
NAMES = ("a", "b", "add")
ATTRIBUTES = ("data-testid", "type")


@dataclass(frozen=True)
class Simple:
    """One test of a compound: `kind` is tag, id, class, has (attribute) or equals."""

    kind: str
    name: str
    value: str = ""

    def css(self) -> str:
        return {
            "tag": self.name,
            "id": f"#{self.name}",
            "class": f".{self.name}",
            "has": f"[{self.name}]",
            "equals": f'[{self.name}="{self.value}"]',
        }[self.kind]


Compound = tuple[Simple, ...]
# Compounds from the subject leftwards, and the combinator (" " or ">") above each but the last.
Complex = tuple[tuple[Compound, ...], tuple[str, ...]]


def render(selectors: list[Complex]) -> str:
    texts = []
    for compounds, combinators in selectors:
        parts = ["".join(s.css() for s in compounds[-1]) or "*"]
        for compound, combinator in zip(
            reversed(compounds[:-1]), reversed(combinators), strict=True
        ):
            parts.append(">" if combinator == ">" else "")
            parts.append("".join(s.css() for s in compound) or "*")
        texts.append(" ".join(part for part in parts if part))
    return ", ".join(texts)


simples = st.one_of(
    st.builds(Simple, st.just("tag"), st.sampled_from(TAGS)),
    st.builds(Simple, st.just("id"), st.sampled_from(NAMES)),
    st.builds(Simple, st.just("class"), st.sampled_from(NAMES)),
    st.builds(Simple, st.just("has"), st.sampled_from(ATTRIBUTES)),
    st.builds(Simple, st.just("equals"), st.sampled_from(ATTRIBUTES), st.sampled_from(NAMES)),
)
compounds = (
    st.lists(simples, min_size=1, max_size=3)
    .map(
        # At most one type selector, first, as CSS requires.
        lambda tests: tuple(sorted(tests, key=lambda s: s.kind != "tag"))
    )
    .filter(lambda tests: sum(s.kind == "tag" for s in tests) <= 1)
)


@st.composite
def complexes(draw: st.DrawFn) -> Complex:
    chain = draw(st.lists(compounds, min_size=1, max_size=4))
    joins = draw(
        st.lists(st.sampled_from((" ", ">")), min_size=len(chain) - 1, max_size=len(chain) - 1)
    )
    return tuple(chain), tuple(joins)


@dataclass
class Element:
    tag: str
    ident: str | None
    classes: tuple[str, ...]
    attributes: dict[str, str]
    children: list["Element"]


elements = st.deferred(
    lambda: st.builds(
        Element,
        st.sampled_from(TAGS),
        st.one_of(st.none(), st.sampled_from(NAMES)),
        st.lists(st.sampled_from(NAMES), max_size=2, unique=True).map(tuple),
        st.dictionaries(st.sampled_from(ATTRIBUTES), st.sampled_from(NAMES), max_size=2),
        st.lists(elements, max_size=3),
    )
)


def serialized(element: Element, ids: "count[int]") -> dict[str, Any]:
    attributes: dict[str, str] = dict(element.attributes)
    if element.ident:
        attributes["id"] = element.ident
    if element.classes:
        attributes["class"] = " ".join(element.classes)
    return {
        "type": 2,
        "id": next(ids),
        "tagName": element.tag,
        "attributes": attributes,
        "childNodes": [serialized(child, ids) for child in element.children],
    }


def brute_matches(
    chain: list[Element], selectors: list[Complex], *, attributes: bool = True
) -> bool:
    """`chain[0]` matches: try every assignment of compounds to ancestors."""

    def simple(element: Element, test: Simple) -> bool:
        if test.kind == "tag":
            return element.tag == test.name
        if test.kind == "id":
            return element.ident == test.name
        if test.kind == "class":
            return test.name in element.classes
        if not attributes:
            return False
        value = element.attributes.get(test.name)
        return value is not None and (test.kind == "has" or value == test.value)

    def from_(position: int, compounds: tuple[Compound, ...], joins: tuple[str, ...]) -> bool:
        if position >= len(chain) or not all(simple(chain[position], t) for t in compounds[0]):
            return False
        if len(compounds) == 1:
            return True
        if joins[0] == ">":
            return from_(position + 1, compounds[1:], joins[1:])
        return any(from_(up, compounds[1:], joins[1:]) for up in range(position + 1, len(chain)))

    return any(from_(0, compounds, joins) for compounds, joins in selectors)


def chains(root: Element) -> list[list[Element]]:
    """Each element with its ancestors, nearest first, in document order (as ids are given)."""
    found: list[list[Element]] = []

    def walk(element: Element, above: list[Element]) -> None:
        chain = [element, *above]
        found.append(chain)
        for child in element.children:
            walk(child, chain)

    walk(root, [])
    return found


def legacy_chain(chain: list[Element]) -> list[Element]:
    """What a stored selector string holds: up to the first element with an id."""
    for position, element in enumerate(chain):
        if element.ident:
            return chain[: position + 1]
    return chain


@settings(max_examples=120, deadline=None)
@given(elements, st.lists(complexes(), min_size=1, max_size=2))
def test_css_on_element_paths_matches_brute_force(root: Element, selectors: list[Complex]) -> None:
    table = NodeTable()
    table.apply_full_snapshot(serialized(root, count(1)))
    wanted = ElementSelector.parse(render(selectors))
    for node_id, chain in enumerate(chains(root), start=1):
        expected = brute_matches(chain, selectors)
        event = {
            "selector": selector_of(table, node_id),
            "element_path": element_path(table, node_id),
        }
        assert wanted.matches(event) == expected, (render(selectors), node_id, event)
        # Counted in a heatmap's top elements, the element keeps what matching needs.
        counted = event_of_key(element_key(event["selector"], event["element_path"]))
        assert wanted.matches(counted) == expected
        # An event stored before paths were kept: its selector string, parsed back.
        legacy = brute_matches(legacy_chain(chain), selectors, attributes=False)
        assert wanted.matches({"selector": event["selector"]}) == legacy


def test_exact_matching_compares_the_stored_string() -> None:
    exact = ElementSelector.parse("form#checkout > button.add", SelectorMatch.EXACT)
    assert exact.matches({"selector": "form#checkout > button.add"})
    assert not exact.matches({"selector": "form#checkout > button.add.big"})
    assert not exact.matches({"selector": None})
