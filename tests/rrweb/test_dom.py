from typing import Any

import pytest

from core.rrweb.dom import NodeTable
from core.rrweb.events import EventType, IncrementalSource, MouseInteraction, NodeType
from tests.extraction.helpers import load, replay


@pytest.fixture
def shop() -> NodeTable:
    return replay(load("recordings/shop-sample.json")[:2])


def element(
    tag: str, nid: int, children: list[dict[str, Any]] | None = None, **attributes: str
) -> dict[str, Any]:
    return {
        "type": NodeType.Element,
        "tagName": tag,
        "attributes": attributes,
        "childNodes": children or [],
        "id": nid,
    }


def text(value: str, nid: int) -> dict[str, Any]:
    return {"type": NodeType.Text, "textContent": value, "id": nid}


def small_page() -> NodeTable:
    """document 1 > html 2 > body 3 > (ul 4 > li 5 "a" [6], li 7 "b" [8])"""
    table = NodeTable()
    items = [element("li", 5, [text("a", 6)]), element("li", 7, [text("b", 8)])]
    html = element("html", 2, [element("body", 3, [element("ul", 4, items)])])
    table.apply_full_snapshot({"type": NodeType.Document, "childNodes": [html], "id": 1})
    return table


def add(parent: int, node: dict[str, Any], next_id: int | None = None) -> dict[str, Any]:
    return {"parentId": parent, "nextId": next_id, "node": node}


def test_enums_follow_rrweb_names_and_values() -> None:
    assert [e.name for e in EventType] == [
        *("DomContentLoaded", "Load", "FullSnapshot", "IncrementalSnapshot", "Meta"),
        *("Custom", "Plugin", "Asset", "Annotation"),
    ]
    assert [e.name for e in IncrementalSource] == [
        *("Mutation", "MouseMove", "MouseInteraction", "Scroll", "ViewportResize", "Input"),
        *("TouchMove", "MediaInteraction", "StyleSheetRule", "CanvasMutation", "Font", "Log"),
        *("Drag", "StyleDeclaration", "Selection", "AdoptedStyleSheet", "CustomElement"),
    ]
    assert [e.name for e in MouseInteraction] == [
        *("MouseUp", "MouseDown", "Click", "ContextMenu", "DblClick", "Focus", "Blur"),
        *("TouchStart", "TouchMove_Departed", "TouchEnd", "TouchCancel"),
    ]
    assert [e.name for e in NodeType] == [
        *("Document", "DocumentType", "Element", "Text", "CDATA", "Comment"),
    ]
    for enum in (EventType, IncrementalSource, MouseInteraction, NodeType):
        assert [e.value for e in enum] == list(range(len(enum)))


def test_click_targets_resolve_after_the_shop_snapshot(shop: NodeTable) -> None:
    promo = shop.get(24)
    assert promo is not None
    assert (promo.tag_name, promo.attributes) == ("div", {"class": "banner", "id": "promo"})
    assert shop.text_content(24) == "Summer sale: 30% off everything"

    add_to_cart = shop.get(34)
    assert add_to_cart is not None
    assert add_to_cart.tag_name == "button"
    assert add_to_cart.attributes == {"class": "add", "data-sku": "mug-blue"}
    assert shop.text_content(34) == "Add to cart"
    assert shop.ancestors(34) == [29, 27, 14, 3, 1]
    card = shop.get(29)
    assert card is not None
    assert card.attributes == {"class": "card"}

    subscribe = shop.get(76)
    assert subscribe is not None
    assert subscribe.attributes == {"type": "submit", "id": "subscribe"}
    assert shop.text_content(76) == "Subscribe"
    form = shop.get(shop.ancestors(76)[0])
    assert form is not None
    assert form.attributes["id"] == "newsletter"


def test_every_click_of_the_shop_recording_resolves_to_its_element() -> None:
    events = load("recordings/shop-sample.json")
    table = NodeTable()
    clicks = []
    for event in events:
        data = event["data"]
        if event["type"] == EventType.FullSnapshot:
            table.apply_full_snapshot(data["node"])
        elif data.get("source") == IncrementalSource.Mutation:
            table.apply_mutation(data)
        elif data.get("source") == IncrementalSource.MouseInteraction and data["type"] == 2:
            node = table.get(data["id"])
            assert node is not None
            clicks.append((data["id"], node.tag_name, table.text_content(data["id"])))
    assert clicks == [
        (34, "button", "Add to cart"),
        (19, "a", "Deals"),
        (70, "input", ""),
        (74, "input", ""),
        (76, "button", "Subscribe"),
        *[(24, "div", "Summer sale: 30% off everything")] * 4,
    ]


def test_text_content_collapses_whitespace_and_skips_script_and_style(shop: NodeTable) -> None:
    assert shop.text_content(29) == "Blue mug12.00 EURAdd to cart"
    grid = shop.text_content(27)
    assert grid.startswith("Blue mug12.00 EURAdd to cart Red kettle")
    assert "\n" not in grid
    assert "  " not in grid
    page = shop.text_content(1)
    assert "SCRIPT_PLACEHOLDER" not in page
    assert "font-family" not in page
    assert page.startswith("Acme Shop Home")
    assert shop.text_content(25) == "Summer sale: 30% off everything"
    assert shop.text_content(9999) == ""


def test_mutations_of_the_shop_recording_update_texts() -> None:
    table = replay(load("recordings/shop-sample.json"))
    assert table.text_content(54) == "Cart: 1 items"
    assert 57 not in table
    assert table.text_content(79) == "Thanks!"
    assert table.children(79) == (86,)


def test_hand_built_sample_mutation_adds_and_sets_attributes() -> None:
    table = replay(load("rrweb-sample.json"))
    assert table.text_content(33) == "Thanks! Check your inbox."
    assert table.parent_id(33) == 14
    assert table.children(14)[-1] == 33
    button = table.get(23)
    assert button is not None
    assert button.attributes["disabled"] == ""
    assert table.text_content(23) == "Sign up"


def test_lookups_of_unknown_ids_answer_empty(shop: NodeTable) -> None:
    assert shop.get(-1) is None
    assert shop.parent_id(-1) is None
    assert shop.ancestors(12345) == []
    assert shop.children(12345) == ()
    assert shop.subtree(12345) == []
    assert shop.parent_id(1) is None
    assert shop.root_id(34) == 1


def test_subtree_is_in_document_order() -> None:
    assert small_page().subtree(4) == [4, 5, 6, 7, 8]


def test_mutation_applies_removes_before_adds() -> None:
    table = small_page()
    # rrweb moves a node as "remove it here, add it there" with the same id.
    table.apply_mutation(
        {"removes": [{"parentId": 4, "id": 5}], "adds": [add(3, element("li", 5))]}
    )
    assert table.children(4) == (7,)
    assert table.parent_id(5) == 3
    assert table.children(3) == (4, 5)


def test_mutation_applies_texts_and_attributes_after_adds() -> None:
    table = small_page()
    table.apply_mutation(
        {
            "adds": [add(4, element("li", 9, title="new")), add(9, text("first", 10))],
            "texts": [{"id": 10, "value": "second"}],
            "attributes": [{"id": 9, "attributes": {"title": None, "class": "x"}}],
        }
    )
    node = table.get(9)
    assert node is not None
    assert node.attributes == {"class": "x"}
    assert table.text_content(9) == "second"


def test_attribute_none_deletes_and_strings_set() -> None:
    table = small_page()
    table.apply_mutation({"attributes": [{"id": 4, "attributes": {"id": "list"}}]})
    table.apply_mutation({"attributes": [{"id": 4, "attributes": {"id": None, "role": "menu"}}]})
    node = table.get(4)
    assert node is not None
    assert node.attributes == {"role": "menu"}


def test_adds_insert_before_next_id_or_append() -> None:
    table = small_page()
    table.apply_mutation(
        {"adds": [add(4, element("li", 20), next_id=7), add(4, element("li", 21), next_id=None)]}
    )
    assert table.children(4) == (5, 20, 7, 21)


def test_adds_in_rrweb_order_build_siblings_in_order() -> None:
    table = small_page()
    # rrweb emits the last sibling first, each later add naming the one before as nextId.
    adds = [add(3, element("p", 32)), add(3, element("p", 31), 32), add(3, element("p", 30), 31)]
    table.apply_mutation({"adds": adds})
    assert table.children(3) == (4, 30, 31, 32)


def test_adds_wait_for_parents_and_next_siblings_later_in_the_list() -> None:
    table = small_page()
    adds = [
        add(40, text("child", 41)),
        add(3, element("p", 42), next_id=40),
        add(3, element("div", 40, id="box")),
    ]
    table.apply_mutation({"adds": adds})
    assert table.children(3) == (4, 42, 40)
    assert table.text_content(40) == "child"


def test_add_with_unknown_next_id_appends_and_unknown_parent_is_skipped() -> None:
    table = small_page()
    table.apply_mutation({"adds": [add(4, element("li", 50), 999), add(999, element("li", 51))]})
    assert table.children(4) == (5, 7, 50)
    assert 51 not in table


def test_add_of_a_known_id_replaces_that_node() -> None:
    table = small_page()
    table.apply_mutation({"adds": [add(3, element("ol", 4))]})
    node = table.get(4)
    assert node is not None
    assert node.tag_name == "ol"
    assert table.children(4) == ()
    assert 5 not in table
    assert 6 not in table
    assert table.children(3) == (4,)


def test_added_subtree_with_children_is_registered() -> None:
    table = small_page()
    frame_document = {
        "type": NodeType.Document,
        "childNodes": [element("html", 61, [element("body", 62, [text("in frame", 63)])])],
        "id": 60,
    }
    table.apply_mutation({"adds": [add(3, element("iframe", 59))]})
    table.apply_mutation({"adds": [add(59, frame_document)], "isAttachIframe": True})
    assert table.ancestors(63) == [62, 61, 60, 59, 3, 2, 1]
    assert table.text_content(59) == "in frame"


def test_remove_drops_the_whole_subtree() -> None:
    table = small_page()
    table.apply_mutation({"removes": [{"parentId": 3, "id": 4}]})
    assert table.children(3) == ()
    assert all(nid not in table for nid in (4, 5, 6, 7, 8))
    assert len(table) == 3


def test_full_snapshot_resets_the_table() -> None:
    table = small_page()
    table.apply_full_snapshot({"type": NodeType.Document, "childNodes": [], "id": 1})
    assert len(table) == 1
    assert table.children(1) == ()


def test_placeholder_lets_later_batches_add_under_unknown_parents() -> None:
    table = NodeTable()
    table.add_placeholder(79)
    table.apply_mutation({"adds": [add(79, text("Thanks!", 86))]})
    assert table.text_content(79) == "Thanks!"
    assert table.root_id(86) == 79
    assert table.root_id(12345) is None
    placeholder = table.get(79)
    assert placeholder is not None
    assert placeholder.is_element
    assert placeholder.tag_name == ""
    assert placeholder.placeholder


BAD_NODES: list[Any] = [
    None,
    "html",
    [],
    {},
    {"type": NodeType.Document},
    {"type": NodeType.Document, "id": -1, "childNodes": [text("x", 2)]},
    {"type": True, "id": 1},
    {"type": NodeType.Document, "id": 1, "childNodes": "nope"},
    {"type": NodeType.Document, "id": 1, "childNodes": [None, 5, {"id": 2}, {"type": 2, "id": 3}]},
    {"type": 0, "id": 1, "childNodes": [{"type": 2, "tagName": 7, "attributes": [1], "id": 4}]},
    {"type": 0, "id": 1, "childNodes": [{"type": 3, "textContent": None, "id": 5}]},
]


@pytest.mark.parametrize("node", BAD_NODES)
def test_malformed_snapshots_do_not_raise(node: Any) -> None:
    table = NodeTable()
    table.apply_full_snapshot(node)
    for nid in (-1, 1, 2, 3, 4, 5):
        table.get(nid)
        table.ancestors(nid)
        table.children(nid)
        table.text_content(nid)


BAD_MUTATIONS: list[Any] = [
    None,
    [],
    {"adds": "x", "removes": 5, "texts": None, "attributes": {}},
    {"removes": [None, {"id": -1}, {"id": "4"}, {"parentId": 3}]},
    {"adds": [None, {"parentId": 3}, {"parentId": 3, "node": "x"}, {"parentId": -1, "node": {}}]},
    {
        "adds": [
            {"parentId": 3, "node": {"type": 2, "id": True}},
            {"parentId": 3, "node": {"id": 9}},
        ]
    },
    {"adds": [{"parentId": 4, "nextId": "5", "node": {"type": 3, "id": 70, "textContent": 5}}]},
    {"adds": [add(5, element("b", 5))]},
    {"adds": [add(6, element("b", 2))]},
    {"adds": [add(71, text("x", 72)), add(72, element("i", 71))]},
    {"texts": [None, {"id": 6}, {"id": 6, "value": 5}, {"id": 4, "value": "x"}, {"id": None}]},
    {"attributes": [None, {"id": 4}, {"id": 4, "attributes": [1]}, {"id": 6, "attributes": {}}]},
    {"attributes": [{"id": 4, "attributes": {"style": {"color": "red"}, "n": 5, "x": None}}]},
]


@pytest.mark.parametrize("mutation", BAD_MUTATIONS)
def test_malformed_mutations_do_not_raise_or_break_the_tree(mutation: Any) -> None:
    table = small_page()
    table.apply_mutation(mutation)
    for nid in table.subtree(1):
        assert nid not in table.ancestors(nid)
        assert 1 in table.ancestors(nid) or nid == 1 or table.parent_id(nid) is None
    assert table.get(1) is not None


def test_cycles_cannot_be_built() -> None:
    table = small_page()
    table.apply_mutation({"adds": [add(8, element("ul", 2))]})  # <html> re-added inside itself
    table.apply_mutation({"adds": [add(9, element("p", 9))]})
    assert 2 not in table
    assert 9 not in table
    assert table.subtree(1) == [1]


def test_duplicate_ids_in_a_snapshot_keep_the_first() -> None:
    table = NodeTable()
    duplicate = element("div", 2, [element("span", 2, [text("inner", 3)])])
    table.apply_full_snapshot({"type": NodeType.Document, "childNodes": [duplicate], "id": 1})
    assert table.ancestors(2) == [1]
    assert table.children(2) == ()


def test_deep_and_wide_trees_need_no_recursion() -> None:
    depth = 5000
    root: dict[str, Any] = element("div", depth + 1, [text("leaf", depth + 2)])
    for nid in range(depth, 1, -1):
        root = element("div", nid, [root])
    table = NodeTable()
    table.apply_full_snapshot({"type": NodeType.Document, "childNodes": [root], "id": 1})
    assert len(table.ancestors(depth + 2)) == depth + 1
    assert table.text_content(1) == "leaf"
    # Each add waits for its next sibling, which only comes later in the list.
    last = 103_000
    adds = [add(2, element("p", nid), nid + 1) for nid in range(100_000, last)]
    table.apply_mutation({"adds": [*adds, add(2, element("p", last))]})
    assert table.children(2) == (3, *range(100_000, last + 1))
