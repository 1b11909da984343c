import cssselect
import pytest

from core.rrweb.dom import NodeTable
from tests.extraction.helpers import document, element, load, page_nodes, replay, text
from workers.extraction.selector import (
    MAX_COMPOUNDS,
    clean_text,
    css_identifier,
    describe,
    field_type,
    link_href,
    selector_of,
    submitted_form,
)


def table_of(root: dict[str, object]) -> NodeTable:
    table = NodeTable()
    table.apply_full_snapshot(root)
    return table


@pytest.fixture(scope="module")
def signup() -> NodeTable:
    """rrweb-sample.json's page (a hand-built sign-up form) after its mutation."""
    return replay(load("rrweb-sample.json"))


@pytest.fixture(scope="module")
def shop() -> NodeTable:
    return replay(load("recordings/shop-sample.json"))


# The selectors, texts and links expected for the sign-up page's elements


@pytest.mark.parametrize(
    ("node_id", "selector"),
    [
        (19, "input#email"),
        (21, "input#password"),
        (23, "button#signup-btn.btn.btn-primary"),
        (27, "html > body > a.nav-link"),
        (33, "p#status.notice"),
        (11, "html > body > h1.title"),
    ],
)
def test_selectors_of_the_signup_sample(signup: NodeTable, node_id: int, selector: str) -> None:
    assert selector_of(signup, node_id) == selector


def test_texts_and_links_of_the_signup_sample(signup: NodeTable) -> None:
    button = describe(signup, 23, 255)
    link = describe(signup, 27, 255)
    status = describe(signup, 33, 255)
    assert button is not None
    assert link is not None
    assert status is not None
    assert (button.text, button.tag, button.href) == ("Sign up", "button", None)
    assert (link.text, link.href) == ("See pricing", "http://localhost:8000/pricing")
    assert status.text == "Thanks! Check your inbox."


def test_a_form_field_is_described_by_its_label_never_its_value(signup: NodeTable) -> None:
    email = describe(signup, 19, 255)
    password = describe(signup, 21, 255)
    assert email is not None
    assert password is not None
    # rrweb.md's checker printed '' here; the label is what a person sees on the field.
    assert (email.text, email.field_type) == ("Email", "email")
    assert (password.text, password.text_masked, password.field_type) == (None, False, "password")


def test_a_text_node_is_described_by_its_element(signup: NodeTable) -> None:
    target = describe(signup, 28, 255)
    assert target is not None
    assert (target.node_id, target.selector, target.href) == (
        27,
        "html > body > a.nav-link",
        "http://localhost:8000/pricing",
    )


# The shop recording (tests/data/recordings/shop.html)


def test_add_to_cart_button(shop: NodeTable) -> None:
    target = describe(shop, 34, 255)
    assert target is not None
    assert target.selector == (
        "html > body > div.grid:nth-of-type(2) > div.card:nth-of-type(1) > button.add"
    )
    assert target.text == "Add to cart"
    assert submitted_form(shop, 34) is None


def test_navigation_links(shop: NodeTable) -> None:
    assert [selector_of(shop, nid) for nid in (17, 19, 21)] == [
        "a#nav-home",
        "a#nav-deals",
        "a#nav-checkout",
    ]
    assert link_href(shop, 21) == "http://127.0.0.1:37047/checkout.html"


def test_fields_inside_their_labels(shop: NodeTable) -> None:
    email, password = describe(shop, 70, 255), describe(shop, 74, 255)
    assert email is not None
    assert password is not None
    assert (email.selector, email.text, email.field_type) == ("input#email", "Email", "email")
    assert (password.selector, password.text, password.field_type) == (
        "input#pw",
        "Password",
        "password",
    )


def test_subscribe_submits_the_newsletter_form(shop: NodeTable) -> None:
    form = submitted_form(shop, 76)
    assert form is not None
    assert selector_of(shop, form.id) == "form#newsletter"
    assert submitted_form(shop, 60) is None  # button#broken is not in a form


def test_text_of_a_block_separates_its_children(shop: NodeTable) -> None:
    card = describe(shop, 29, 255)
    cart = describe(shop, 54, 255)
    assert card is not None
    assert cart is not None
    assert card.text == "Blue mug 12.00 EUR Add to cart"
    assert cart.text == "Cart: 1 items"  # inline span, after the click's mutation


# Rules, on hand-built pages


def test_nth_of_type_counts_element_siblings_of_the_same_tag() -> None:
    items = [element("li", 5, [text("a", 6)]), text(" ", 7), element("li", 8, [text("b", 9)])]
    table = table_of(document([element("p", 10), element("ul", 4, items), element("p", 11)]))
    assert selector_of(table, 8) == "html > body > ul > li:nth-of-type(2)"
    assert selector_of(table, 11) == "html > body > p:nth-of-type(2)"


def test_generated_names_are_left_out_and_others_escaped() -> None:
    button = element("button", 5, None, {"class": "css-1x2y3z sc-bdVaJa jsx-123 btn"}, id=":r1:")
    odd = element("span", 6, None, {"class": "hover:bg-red w-1/2"}, id="1st")
    table = table_of(document([element("div", 4, [button, odd])]))
    assert selector_of(table, 5) == "html > body > div > button.btn"
    assert selector_of(table, 6) == "span#\\31 st.hover\\:bg-red.w-1\\/2"
    for nid in (5, 6):
        cssselect.parse(selector_of(table, nid))


def test_css_identifier_escapes() -> None:
    assert css_identifier("plain-name_2") == "plain-name_2"
    assert css_identifier("-1x") == "-\\31 x"
    assert css_identifier("a b\nc") == "a\\ b\\a c"
    assert css_identifier("café") == "café"


def test_deep_trees_give_a_selector_of_bounded_length() -> None:
    node = element("span", 1000)
    for nid in range(999, 899, -1):
        node = element("div", nid, [node])
    table = table_of(document([node]))
    assert selector_of(table, 1000).count(" > ") == MAX_COMPOUNDS - 1


def test_masked_text_is_reported_as_masked() -> None:
    masked = element("button", 4, [text("**** ***", 5)])
    partly = element("p", 6, [text("Hello ", 7), element("b", 8, [text("*****", 9)])])
    table = table_of(document([masked, partly]))
    target, other = describe(table, 4, 255), describe(table, 6, 255)
    assert target is not None
    assert other is not None
    assert (target.text, target.text_masked) == (None, True)
    assert (other.text, other.text_masked) == ("Hello *****", False)


def test_text_is_collapsed_and_cut() -> None:
    assert clean_text("  Add \n\t to   cart ", 255) == ("Add to cart", False)
    assert clean_text("abcdef ghi", 7) == ("abcdef", False)
    assert clean_text(" \n ", 255) == (None, False)


def test_card_and_social_security_numbers_are_dropped() -> None:
    assert clean_text("Card 4111 1111 1111 1111 saved", 255) == ("Card saved", False)
    assert clean_text("SSN 078-05-1120", 255) == ("SSN", False)
    assert clean_text("Order 12345 of 2024", 255) == ("Order 12345 of 2024", False)


def test_text_leaves_out_scripts_styles_and_typed_text() -> None:
    children = [
        element("script", 5, [text("SCRIPT_PLACEHOLDER", 6)]),
        element("style", 7, [text("p{}", 8)]),
        element("textarea", 9, [text("my secret", 10)]),
        text("Visible", 11),
    ]
    table = table_of(document([element("div", 4, children)]))
    target = describe(table, 4, 255)
    assert target is not None
    assert target.text == "Visible"


def test_field_labels_and_button_values() -> None:
    table = table_of(page_nodes())
    name, send = describe(table, 8, 255), describe(table, 13, 255)
    assert name is not None
    assert send is not None
    assert (name.text, name.field_type) == ("Name", "text")  # <label for=name>, never "***"
    assert (send.text, send.field_type) == ("Send", "submit")


def test_field_types() -> None:
    fields = [
        element("input", 4),
        element("input", 5, type="CheckBox"),
        element("input", 6, None, {"data-rr-is-password": "true"}, type="text"),
        element("textarea", 7),
        element("select", 8),
        element("div", 9),
    ]
    table = table_of(document(fields))
    types = [field_type(node) for nid in range(4, 10) if (node := table.get(nid)) is not None]
    assert types == ["text", "checkbox", "password", "textarea", "select", None]


def test_submit_controls() -> None:
    inner = element("button", 6, [element("span", 7, [text("Go", 8)])])
    form = element("form", 4, [element("input", 5, type="image"), inner], id="f")
    table = table_of(document([form, element("button", 9, type="submit")]))
    for nid in (5, 6, 7):
        found = submitted_form(table, nid)
        assert found is not None
        assert found.id == 4
    assert submitted_form(table, 9) is None
    page = table_of(page_nodes())
    found = submitted_form(page, 13)
    assert found is not None
    assert found.id == 12
    assert submitted_form(page, 14) is None  # type=button


def test_unknown_nodes_are_not_described() -> None:
    table = table_of(page_nodes())
    assert describe(table, 999, 255) is None
    assert describe(NodeTable(), 1, 255) is None
    assert link_href(table, 999) is None
