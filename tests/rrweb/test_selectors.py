import json
from pathlib import Path

import pytest

from core.rrweb.dom import NodeTable
from core.rrweb.selectors import SelectorError, parse_selector_list

SHOP = Path(__file__).resolve().parent.parent / "data" / "recordings" / "shop-sample.json"


@pytest.fixture(scope="module")
def shop() -> NodeTable:
    table = NodeTable()
    table.apply_full_snapshot(json.loads(SHOP.read_text())[1]["data"]["node"])
    return table


def select(table: NodeTable, selector: str) -> list[int]:
    selectors = parse_selector_list(selector)
    return [nid for nid in table.subtree(1) if selectors.matches(table, nid)]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("button", [34, 42, 50, 60, 76]),
        ("BUTTON", [34, 42, 50, 60, 76]),
        ("#promo", [24]),
        ("div#promo.banner", [24]),
        ("span#promo", []),
        (".card", [29, 37, 45]),
        (".card.banner", []),
        ("button.add", [34, 42, 50]),
        ("#nav-deals", [19]),
    ],
)
def test_type_id_and_class_selectors(shop: NodeTable, selector: str, expected: list[int]) -> None:
    assert select(shop, selector) == expected


def test_universal_selector_matches_elements_only(shop: NodeTable) -> None:
    matched = select(shop, "*")
    assert 24 in matched
    assert 3 in matched
    assert 1 not in matched
    assert 2 not in matched
    assert 25 not in matched
    assert all(node.is_element for node in map(shop.get, matched) if node is not None)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("[data-sku]", [34, 42, 50]),
        ("[DATA-SKU]", [34, 42, 50]),
        ("[data-sku=mug-blue]", [34]),
        ('[data-sku="mug-blue"]', [34]),
        ("[data-sku='mug-blue']", [34]),
        ("[data-sku^=kettle]", [42]),
        ("[data-sku$='-green']", [50]),
        ('[data-sku*="-"]', [34, 42, 50]),
        ("[class~=add]", [34, 42, 50]),
        ("[class~=ad]", []),
        ("[class=add]", [34, 42, 50]),
        ('[href$="#deals"]', [19]),
        ("input[type=password]", [74]),
        ('[data-sku^=""]', []),
        ('[data-sku*=""]', []),
        ("[class~='add card']", []),
        ("[type=Password]", []),
    ],
)
def test_attribute_selectors(shop: NodeTable, selector: str, expected: list[int]) -> None:
    assert select(shop, selector) == expected


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        (".grid button", [34, 42, 50]),
        (".grid > button", []),
        (".card > button", [34, 42, 50]),
        ("body > div", [24, 27, 63]),
        ("form label > input", [70, 74]),
        ("header a", [17, 19, 21]),
        ("html body .grid .card h3", [30, 38, 46]),
        ("div div h3", [30, 38, 46]),
        ("body > .grid > .card > p", [32, 40, 48]),
        ("html > div", []),
        ("#newsletter button, #promo", [24, 76]),
        ("#promo,#promo", [24]),
    ],
)
def test_combinators_and_lists(shop: NodeTable, selector: str, expected: list[int]) -> None:
    assert select(shop, selector) == expected


def test_matches_self_or_ancestor_is_closest(shop: NodeTable) -> None:
    promo = parse_selector_list("#promo")
    assert promo.matches_self_or_ancestor(shop, 25)  # the text node inside
    assert promo.matches_self_or_ancestor(shop, 24)
    assert not promo.matches(shop, 25)
    grid = parse_selector_list(".grid")
    assert grid.matches_self_or_ancestor(shop, 35)
    assert not grid.matches_self_or_ancestor(shop, 76)
    assert not grid.matches_self_or_ancestor(shop, 9999)


def test_subjects_are_the_rightmost_compounds_of_selectors_with_combinators(
    shop: NodeTable,
) -> None:
    subjects = parse_selector_list("#missing button.add, #promo, form > label input").subjects()
    assert len(subjects) == 2
    assert [nid for nid in shop.subtree(1) if subjects.matches(shop, nid)] == [34, 42, 50, 70, 74]


def test_unknown_ids_never_match(shop: NodeTable) -> None:
    everything = parse_selector_list("*")
    assert not everything.matches(shop, 9999)
    assert not everything.matches(shop, -1)


def test_placeholder_matches_only_the_universal_selector() -> None:
    table = NodeTable()
    table.add_placeholder(5)
    assert parse_selector_list("*").matches(table, 5)
    assert not parse_selector_list("div, [id], .x, #x").matches(table, 5)


def test_escapes_are_understood() -> None:
    table = NodeTable()
    table.apply_full_snapshot(
        {
            "type": 0,
            "childNodes": [{"type": 2, "tagName": "p", "attributes": {"id": "a:b"}, "id": 2}],
            "id": 1,
        }
    )
    assert parse_selector_list(r"#a\:b").matches(table, 2)


@pytest.mark.parametrize(
    ("selector", "named"),
    [
        ("a:hover", "pseudo-class ':hover'"),
        ("li:nth-child(2)", "pseudo-class ':nth-child()'"),
        (".x:not(.y)", "pseudo-class ':not()'"),
        ("div:has(img)", "pseudo-class ':has()'"),
        (":is(a, b)", "pseudo-class ':is()'"),
        ("p::before", "pseudo-element '::before'"),
        ("h1 + p", "combinator '+'"),
        ("h1 ~ p", "combinator '~'"),
        ("svg|rect", "namespace prefix 'svg|'"),
        ("[xlink|href]", "namespace prefix 'xlink|'"),
        ("[lang|=en]", "attribute operator '|='"),
        ("[type=text i]", "attribute flag 'i'"),
        ("a " * 40, "more than 32"),
    ],
)
def test_unsupported_selectors_name_the_part(selector: str, named: str) -> None:
    with pytest.raises(SelectorError) as raised:
        parse_selector_list(selector)
    message = str(raised.value)
    assert named in message
    assert repr(selector) in message
    assert "supported:" in message


@pytest.mark.parametrize(
    ("selector", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("div >", "expected a selector, got the end of the text"),
        ("> div", "got '>' at character 1"),
        ("#promo,", "got the end of the text"),
        ("[data-sku=]", "got ']' at character 11"),
        ("a..b", "got '.' at character 3"),
        ("[data-sku", "expected"),
        ("x" * 1001, "too long"),
    ],
)
def test_syntax_errors_say_what_is_wrong(selector: str, problem: str) -> None:
    with pytest.raises(SelectorError) as raised:
        parse_selector_list(selector)
    message = str(raised.value)
    assert problem in message
    assert selector.strip()[:40] in message
