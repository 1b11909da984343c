import copy
import json
import random
from typing import Any

import pytest

from core.derived_events import DerivedEvent, Kind
from core.rrweb.privacy import PrivacyPolicy, PrivacyState, apply_privacy
from core.signal_settings import SignalSettings
from tests.extraction.helpers import (
    T0,
    URL,
    Event,
    click,
    custom,
    document,
    documents,
    element,
    error,
    extract,
    focus,
    load,
    meta,
    mouse_move,
    mutation,
    navigation,
    of_kind,
    scroll,
    snapshot,
    start,
    track,
    typing,
)
from workers.extraction.extractor import Extractor, Ordinals

SHOP_URL = "http://127.0.0.1:37047/shop.html"
SHOP_T0 = 1795910773345
ADD_TO_CART = "html > body > div.grid:nth-of-type(2) > div.card:nth-of-type(1) > button.add"


def shop_events() -> list[Event]:
    """The shop recording as it is stored: masked with the default privacy policy."""
    return apply_privacy(load("recordings/shop-sample.json"), PrivacyPolicy(), PrivacyState())


@pytest.fixture(scope="module")
def shop() -> list[DerivedEvent]:
    return extract(shop_events())


def clicks_on(events: list[DerivedEvent], selector: str) -> list[DerivedEvent]:
    return [e for e in of_kind(events, Kind.CLICK) if e.selector == selector]


# The shop recording


def test_shop_page_view(shop: list[DerivedEvent]) -> None:
    [view] = of_kind(shop, Kind.PAGE_VIEW)
    assert (view.timestamp, view.url, view.path) == (SHOP_T0, SHOP_URL, "/shop.html")
    assert (view.viewport_width, view.viewport_height) == (1280, 800)


def test_shop_add_to_cart_click(shop: list[DerivedEvent]) -> None:
    [add] = clicks_on(shop, ADD_TO_CART)
    assert (add.text, add.tag, add.href) == ("Add to cart", "button", None)
    assert (add.x, add.y) == (69.0, 282.0)
    assert (add.url, add.path, add.viewport_width) == (SHOP_URL, "/shop.html", 1280)


def test_shop_navigation_link_click(shop: list[DerivedEvent]) -> None:
    [deals] = clicks_on(shop, "a#nav-deals")
    assert deals.text == "Deals"
    assert deals.href == "http://127.0.0.1:37047/shop.html#deals"


def test_shop_subscribe_click_and_submit(shop: list[DerivedEvent]) -> None:
    [subscribe] = clicks_on(shop, "button#subscribe")
    assert subscribe.text == "Subscribe"
    [submit] = of_kind(shop, Kind.SUBMIT)
    assert (submit.selector, submit.tag, submit.timestamp) == (
        "form#newsletter",
        "form",
        subscribe.timestamp,
    )


def test_shop_page_coordinates_add_the_scroll_offset(shop: list[DerivedEvent]) -> None:
    # Scrolled to y=900 before the email click and to y=1738 before the password click.
    [email] = clicks_on(shop, "input#email")
    [password] = clicks_on(shop, "input#pw")
    [subscribe] = clicks_on(shop, "button#subscribe")
    assert (email.x, email.y) == (108.0, 658.0 + 900)
    assert (password.x, password.y) == (108.0, 723.0 + 1738)
    assert subscribe.y == 757.0 + 1738


def test_shop_one_rage_click_on_the_promo_banner(shop: list[DerivedEvent]) -> None:
    promo = clicks_on(shop, "div#promo.banner")
    [rage] = of_kind(shop, Kind.RAGE_CLICK)
    assert len(promo) == 4
    assert (rage.selector, rage.count, rage.text) == (
        "div#promo.banner",
        4,
        "Summer sale: 30% off everything",
    )
    assert (rage.timestamp, rage.x, rage.y, rage.signals_version) == (
        promo[0].timestamp,
        640.0,
        96.0,
        1,
    )


def test_shop_dead_click_is_the_first_promo_click_only(shop: list[DerivedEvent]) -> None:
    promo = clicks_on(shop, "div#promo.banner")
    [dead] = of_kind(shop, Kind.DEAD_CLICK)
    assert (dead.selector, dead.timestamp, dead.signals_version) == (
        "div#promo.banner",
        promo[0].timestamp,
        1,
    )
    assert of_kind(shop, Kind.ERROR_CLICK) == []


def test_shop_one_input_per_field(shop: list[DerivedEvent]) -> None:
    inputs = of_kind(shop, Kind.INPUT)
    assert [(e.selector, e.field_type, e.text) for e in inputs] == [
        ("input#email", "email", "Email"),
        ("input#pw", "password", "Password"),
    ]
    assert inputs[0].timestamp == SHOP_T0 + 2009  # the first keystroke


@pytest.mark.parametrize("masked", [True, False])
def test_shop_stores_no_typed_value(masked: bool) -> None:
    events = shop_events() if masked else load("recordings/shop-sample.json")
    stored = json.dumps([e.to_document() for e in extract(events)])
    for typed in ("jane", "example.com", "***"):
        assert typed not in stored


def test_shop_scroll_depth(shop: list[DerivedEvent]) -> None:
    [depth] = of_kind(shop, Kind.SCROLL)
    assert (depth.timestamp, depth.depth_px, depth.depth_share) == (SHOP_T0, 1738 + 800, None)


def test_shop_depth_share_once_the_page_height_is_reported() -> None:
    events = shop_events()
    events.insert(2, custom(SHOP_T0 + 60, "sightline.page", {"scrollHeight": 3000}))
    [depth] = of_kind(extract(events), Kind.SCROLL)
    assert (depth.depth_px, depth.depth_share, depth.page_height) == (2538, 0.846, 3000)
    assert all(e.page_height == 3000 for e in extract(events) if e.kind == Kind.CLICK)


def test_shop_error_click_on_the_broken_button() -> None:
    events = shop_events()
    last = events[-1]["timestamp"]
    broken = click(last + 100, 60, x=50, y=300)
    events += [broken, error(last + 102, "undefinedFunctionCall is not defined")]
    derived = extract(events)
    [failure] = of_kind(derived, Kind.ERROR)
    [blamed] = of_kind(derived, Kind.ERROR_CLICK)
    assert failure.message == "undefinedFunctionCall is not defined"
    assert (blamed.selector, blamed.text, blamed.timestamp) == (
        "button#broken",
        "Apply coupon",
        last + 100,
    )


@pytest.mark.parametrize("size", [1, 7, 20])
def test_chunked_feeding_gives_the_same_events(size: int) -> None:
    events = [*shop_events(), error(SHOP_T0 + 3300), track(SHOP_T0 + 3300, "coupon")]
    events.sort(key=lambda event: event["timestamp"])
    whole = documents(extract(events))
    extractor = Extractor(SignalSettings())
    chunked: list[DerivedEvent] = []
    for index in range(0, len(events), size):
        chunked += extractor.feed(events[index : index + size])
    chunked += extractor.finish(final=True)
    assert documents(chunked) == whole


def test_keys_are_unique_and_deterministic() -> None:
    first, second = extract(shop_events()), extract(shop_events())
    keys = [event.key() for event in first]
    assert len(set(keys)) == len(keys)
    assert keys == [event.key() for event in second]
    assert documents(first) == documents(second)
    assert "rage_click:1795910776407:0" in keys


def test_finish_not_final_leaves_an_uncovered_dead_click_undecided() -> None:
    events = shop_events()  # the data ends 1109 ms after the first promo click
    extractor = Extractor(SignalSettings())
    pending = extractor.feed(events) + extractor.finish(final=False)
    assert of_kind(pending, Kind.DEAD_CLICK) == []
    assert [e.count for e in of_kind(pending, Kind.RAGE_CLICK)] == [4]
    assert len(of_kind(pending, Kind.SCROLL)) == 1
    assert len(of_kind(pending, Kind.CLICK)) == 9
    assert len(of_kind(extractor.finish(final=True), Kind.DEAD_CLICK)) == 1


def test_finish_not_final_changes_nothing() -> None:
    events = shop_events()
    extractor = Extractor(SignalSettings())
    early = extractor.feed(events[:60]) + extractor.finish(final=False)
    late = extractor.feed(events[60:]) + extractor.finish(final=True)
    whole = extract(events)
    assert {e.key() for e in early + late} == {e.key() for e in whole}
    assert documents(late) == documents([e for e in whole if e.key() in {x.key() for x in late}])


def test_a_finished_extractor_refuses_more() -> None:
    extractor = Extractor(SignalSettings())
    extractor.finish(final=True)
    with pytest.raises(RuntimeError, match="finished"):
        extractor.feed([])
    with pytest.raises(RuntimeError, match="finished"):
        extractor.finish(final=True)


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="rage_click_count"):
        Extractor(SignalSettings(rage_click_count=1))


@pytest.mark.parametrize(("count", "rages"), [(3, [4]), (4, [4]), (5, [])])
def test_rage_click_count_setting(count: int, rages: list[int]) -> None:
    settings = SignalSettings(version=7, rage_click_count=count)
    derived = extract(shop_events(), settings)
    assert [e.count for e in of_kind(derived, Kind.RAGE_CLICK)] == rages
    signals = [e for e in derived if e.kind in (Kind.RAGE_CLICK, Kind.DEAD_CLICK)]
    assert signals
    assert all(e.signals_version == 7 for e in signals)
    assert all(e.signals_version is None for e in of_kind(derived, Kind.CLICK))


# The expectations for tests/data/rrweb-sample.json, a hand-built sign-up page


def test_signup_sample() -> None:
    derived = extract(load("rrweb-sample.json"))
    clicks = [
        (e.timestamp - 1718000000000, e.selector, e.text, e.x, e.y, e.href)
        for e in of_kind(derived, Kind.CLICK)
    ]
    assert clicks == [
        (1703, "input#email", "Email", 181.0, 131.0, None),
        (4281, "input#password", None, 176.0, 167.0, None),
        # Page coordinates: the document was scrolled to y=120 at +6000.
        (8471, "button#signup-btn.btn.btn-primary", "Sign up", 92.0, 94.0 + 120, None),
        (10367, "html > body > a.nav-link", "See pricing", 60.0, 250.0 + 120, "http://localhost:8000/pricing"),
    ]  # fmt: skip
    inputs = [(e.timestamp - 1718000000000, e.selector) for e in of_kind(derived, Kind.INPUT)]
    assert inputs == [(3050, "input#email"), (5120, "input#password")]
    [depth] = of_kind(derived, Kind.SCROLL)
    assert depth.depth_px == 120 + 720
    assert [e.url for e in of_kind(derived, Kind.PAGE_VIEW)] == ["http://localhost:8000/signup"]
    # The button got a mutation; the last link click ends the data, so the page unloaded.
    assert of_kind(derived, Kind.DEAD_CLICK) == []
    assert of_kind(derived, Kind.SUBMIT) == []  # the button is type=button


def test_viewport_resize_is_carried() -> None:
    derived = extract(load("rrweb-sample.json"))
    last = of_kind(derived, Kind.CLICK)[-1]
    assert (last.viewport_width, last.viewport_height) == (1024, 700)


# Dead clicks


def dead_clicks(events: list[Event], final: bool = True) -> list[DerivedEvent]:
    return of_kind(extract(events, final=final), Kind.DEAD_CLICK)


def test_a_click_without_feedback_is_dead() -> None:
    [dead] = dead_clicks([*start(), click(T0 + 100, 4), mouse_move(T0 + 2601)])
    assert (dead.selector, dead.text, dead.timestamp) == ("button#go", "Go", T0 + 100)


@pytest.mark.parametrize(
    ("feedback", "dead"),
    [
        (mutation(T0 + 2600), False),
        (mutation(T0 + 2601), True),
        (scroll(T0 + 200, 300), False),
        (scroll(T0 + 201, 300), True),
        (scroll(T0 + 150, 300, nid=17), False),  # an element's scroll counts too
        (typing(T0 + 1000, 8, "*"), False),
        ({"type": 3, "data": {"source": 14, "ranges": []}, "timestamp": T0 + 150}, False),
        (meta(T0 + 900, "https://shop.example/next"), False),
        (navigation(T0 + 900, "https://shop.example/next"), False),
        (navigation(T0 + 900, URL), True),  # not a navigation: same URL
        (error(T0 + 150), True),
    ],
)
def test_dead_click_windows(feedback: Event, dead: bool) -> None:
    events = [*start(), click(T0 + 100, 4), feedback, mouse_move(T0 + 3000)]
    assert len(dead_clicks(events)) == int(dead)


def test_link_clicks_that_navigate_are_not_dead() -> None:
    followed = [*start(), click(T0 + 100, 6), *start(T0 + 400, "https://shop.example/docs")]
    assert dead_clicks([*followed, mouse_move(T0 + 5000)]) == []
    spa = [*start(), click(T0 + 100, 7), navigation(T0 + 300, "https://shop.example/docs")]
    assert dead_clicks([*spa, mouse_move(T0 + 5000)]) == []
    unloaded = [*start(), click(T0 + 100, 6)]
    assert dead_clicks(unloaded) == []
    assert len(dead_clicks([*unloaded, mouse_move(T0 + 2601)])) == 1


def test_a_button_click_at_the_end_of_final_data_is_dead() -> None:
    assert len(dead_clicks([*start(), click(T0 + 100, 4)], final=True)) == 1
    assert dead_clicks([*start(), click(T0 + 100, 4)], final=False) == []


@pytest.mark.parametrize("target", [8, 9, 10, 11, 2, 3, 999, -1])
def test_fields_labels_the_page_background_and_unknown_nodes_are_never_dead(target: int) -> None:
    events = [*start(), click(T0 + 100, target), mouse_move(T0 + 5000)]
    derived = extract(events)
    assert len(of_kind(derived, Kind.CLICK)) == 1
    assert of_kind(derived, Kind.DEAD_CLICK) == []


def test_a_click_on_an_unknown_node_has_no_selector() -> None:
    [unknown] = of_kind(extract([*start(), click(T0 + 100, 999)]), Kind.CLICK)
    assert (unknown.selector, unknown.text, unknown.tag, unknown.x) == (None, None, None, 100.0)


def test_repeated_clicks_on_one_element_are_judged_once() -> None:
    clicks = [click(T0 + 100 + 400 * n, 4, x=100 + 50 * n) for n in range(5)]
    [dead] = dead_clicks([*start(), *clicks, mouse_move(T0 + 9000)])
    assert dead.timestamp == T0 + 100
    slow = [click(T0 + 100, 4), click(T0 + 1200, 4)]
    assert len(dead_clicks([*start(), *slow, mouse_move(T0 + 9000)])) == 2


# Error clicks


def test_an_error_soon_after_a_click_makes_an_error_click() -> None:
    derived = extract([*start(), click(T0 + 100, 4), error(T0 + 1100), error(T0 + 1101)])
    [blamed] = of_kind(derived, Kind.ERROR_CLICK)
    assert (blamed.selector, blamed.timestamp, blamed.signals_version) == ("button#go", T0 + 100, 1)
    assert len(of_kind(derived, Kind.ERROR)) == 2


def test_a_late_error_makes_no_error_click() -> None:
    derived = extract([*start(), click(T0 + 100, 4), error(T0 + 1101)])
    assert of_kind(derived, Kind.ERROR_CLICK) == []


def test_an_error_is_blamed_on_the_latest_click_only() -> None:
    events = [*start(), click(T0 + 100, 4), click(T0 + 300, 17, x=400), error(T0 + 400)]
    [blamed] = of_kind(extract(events), Kind.ERROR_CLICK)
    assert blamed.selector == "html > body > div.panel"


def test_an_error_after_a_page_load_is_not_blamed_on_the_previous_page() -> None:
    events = [*start(), click(T0 + 100, 6), *start(T0 + 200, "https://shop.example/docs")]
    assert of_kind(extract([*events, error(T0 + 300)]), Kind.ERROR_CLICK) == []


def test_error_click_window_setting() -> None:
    events = [*start(), click(T0 + 100, 4), error(T0 + 1600)]
    settings = SignalSettings(error_click_ms=2000)
    assert len(of_kind(extract(events, settings), Kind.ERROR_CLICK)) == 1


# Rage clicks


def rage_clicks(clicks: list[Event], settings: SignalSettings | None = None) -> list[DerivedEvent]:
    return of_kind(extract([*start(), *clicks], settings), Kind.RAGE_CLICK)


def test_rage_click_radius_is_manhattan_and_strict() -> None:
    near = [click(T0 + 100 + 100 * n, 17, x=100 + 14 * n, y=100 + 15 * n) for n in range(3)]
    assert [r.count for r in rage_clicks(near)] == [3]
    apart = [click(T0 + 100 + 100 * n, 17, x=100 + 15 * n, y=100 + 15 * n) for n in range(3)]
    assert rage_clicks(apart) == []
    wide = SignalSettings(rage_click_radius_px=31)
    assert len(rage_clicks(apart, wide)) == 1


def test_rage_click_window_runs_from_first_to_last() -> None:
    inside = [click(T0 + 100 + 499 * n, 17) for n in range(3)]
    assert len(rage_clicks(inside)) == 1
    outside = [click(T0 + 100 + 500 * n, 17) for n in range(3)]
    assert rage_clicks(outside) == []


def test_separate_bursts_give_separate_rage_clicks() -> None:
    first = [click(T0 + 100 + 50 * n, 17) for n in range(3)]
    second = [click(T0 + 300 + 50 * n, 4, x=500) for n in range(5)]
    assert [r.count for r in rage_clicks([*first, *second])] == [3, 5]


def test_a_click_without_coordinates_breaks_a_burst() -> None:
    bare = click(T0 + 200, 17)
    del bare["data"]["x"]
    clicks = [click(T0 + 100, 17), click(T0 + 150, 17), bare, click(T0 + 250, 17)]
    assert rage_clicks(clicks) == []


# Inputs


def inputs(events: list[Event]) -> list[DerivedEvent]:
    return of_kind(extract(events), Kind.INPUT)


def test_keystrokes_in_one_field_make_one_input() -> None:
    keys = [typing(T0 + 100 + 10 * n, 8, "*" * (n + 1)) for n in range(16)]
    [single] = inputs([*start(), *keys])
    assert (single.selector, single.field_type, single.text, single.timestamp) == (
        "input#name",
        "text",
        "Name",
        T0 + 100,
    )


def test_a_new_focus_starts_a_new_input() -> None:
    events = [*start(), typing(T0 + 100, 8, "*"), focus(T0 + 200, 8, blur=True)]
    events += [focus(T0 + 300, 8), typing(T0 + 400, 8, "**"), typing(T0 + 500, 8, "***")]
    assert [e.timestamp for e in inputs(events)] == [T0 + 100, T0 + 400]


def test_unchecked_radios_and_scripted_changes_are_not_inputs() -> None:
    radios = [
        element("input", 4, type="radio", name="plan", value="a"),
        element("input", 5, type="radio", name="plan", value="b"),
    ]
    events = [meta(T0), snapshot(T0 + 1, document(radios))]
    events += [typing(T0 + 100, 5, "b", checked=True), typing(T0 + 100, 4, "a")]
    events += [typing(T0 + 200, 4, "a", checked=True, userTriggered=False)]
    [chosen] = inputs(events)
    assert (chosen.field_type, chosen.selector) == ("radio", "html > body > input:nth-of-type(2)")


def test_an_input_on_an_unknown_field_still_counts() -> None:
    [unknown] = inputs([*start(), typing(T0 + 100, 500, "*")])
    assert (unknown.selector, unknown.field_type) == (None, None)


# Pages, scroll depth, custom events, submits


def test_page_views_and_scroll_depth_per_page() -> None:
    events = [*start(), scroll(T0 + 100, 400), navigation(T0 + 200, "https://shop.example/cart")]
    events += [scroll(T0 + 300, 100), navigation(T0 + 400, "https://shop.example/cart")]
    events += [custom(T0 + 450, "sightline.page", {"scrollHeight": 1800, "href": "x"})]
    events += [*start(T0 + 500, "https://shop.example/pay"), track(T0 + 600, "paid")]
    derived = extract(events)
    views = of_kind(derived, Kind.PAGE_VIEW)
    assert [(v.timestamp, v.path) for v in views] == [
        (T0, "/products"),
        (T0 + 200, "/cart"),
        (T0 + 500, "/pay"),
    ]
    depths = [
        (d.timestamp, d.path, d.depth_px, d.depth_share) for d in of_kind(derived, Kind.SCROLL)
    ]
    assert depths == [
        (T0, "/products", 1200, None),
        (T0 + 200, "/cart", 1200, 0.6667),  # the navigation kept the scroll position (400)
        (T0 + 500, "/pay", 800, None),
    ]  # fmt: skip
    [paid] = of_kind(derived, Kind.CUSTOM)
    assert (paid.name, paid.properties, paid.path) == ("paid", {}, "/pay")


def test_a_stream_without_meta_still_yields_events() -> None:
    derived = extract([snapshot(T0, top=50), click(T0 + 100, 4, x=10, y=10)])
    [tap] = of_kind(derived, Kind.CLICK)
    assert (tap.url, tap.path, tap.selector, tap.y) == (None, None, "button#go", 60.0)
    assert of_kind(derived, Kind.PAGE_VIEW) == []


def test_custom_events_and_errors() -> None:
    events = [*start(), track(T0 + 10, "added_to_cart", sku="mug"), error(T0 + 20, "boom")]
    events += [custom(T0 + 30, "sightline.track", {"name": "", "properties": {}})]
    events += [custom(T0 + 40, "sightline.track", {"name": "x", "properties": [1]})]
    derived = extract(events)
    assert [(e.name, e.properties) for e in of_kind(derived, Kind.CUSTOM)] == [
        ("added_to_cart", {"sku": "mug"}),
        ("x", None),
    ]
    assert [e.message for e in of_kind(derived, Kind.ERROR)] == ["boom"]


def test_submit_reports() -> None:
    report = custom(T0 + 150, "sightline.submit", {"selector": "form#contact"})
    derived = extract([*start(), click(T0 + 100, 13), report])
    assert [(e.selector, e.timestamp) for e in of_kind(derived, Kind.SUBMIT)] == [
        ("form#contact", T0 + 100)
    ]
    alone = extract([*start(), custom(T0 + 150, "sightline.submit", {"selector": "form#search"})])
    assert [e.selector for e in of_kind(alone, Kind.SUBMIT)] == ["form#search"]


def test_same_millisecond_events_get_ordinals() -> None:
    derived = extract([*start(), track(T0 + 5, "a"), track(T0 + 5, "b"), click(T0 + 5, 4)])
    keys = [e.key() for e in derived if e.kind in (Kind.CUSTOM, Kind.CLICK)]
    assert keys == [f"custom:{T0 + 5}:0", f"custom:{T0 + 5}:1", f"click:{T0 + 5}:0"]


def test_ordinals_forget_old_counters_only() -> None:
    ordinals = Ordinals()
    for n in range(Ordinals.MIN_SIZE + 1):
        ordinals.next(Kind.CLICK, n)
    assert ordinals.next(Kind.CLICK, 5) == 1
    ordinals.next(Kind.CLICK, 5 + Ordinals.HORIZON_MS * 2)
    for n in range(Ordinals.MIN_SIZE):
        ordinals.next(Kind.INPUT, 10**9 + n)
    assert ordinals.next(Kind.CLICK, 5 + Ordinals.HORIZON_MS * 2) == 1


# Robustness


GARBAGE: list[Any] = [
    None,
    1,
    "event",
    [],
    {},
    {"type": 3},
    {"type": True, "data": {}, "timestamp": T0},
    {"type": 3, "data": None, "timestamp": T0},
    {"type": 3, "data": {"source": "2"}, "timestamp": T0},
    {"type": 3, "data": {"source": 2, "type": 2, "id": "4", "x": "1", "y": None}, "timestamp": T0},
    {"type": 3, "data": {"source": 2, "type": 2, "id": 4, "x": 1e400, "y": 2}, "timestamp": T0},
    {"type": 3, "data": {"source": 2, "type": 2, "id": 4, "x": 10**400, "y": 2}, "timestamp": T0},
    {"type": 3, "data": {"source": 0, "adds": "x", "removes": [None]}, "timestamp": "now"},
    {"type": 3, "data": {"source": 3, "id": 1, "x": 0, "y": "far"}, "timestamp": T0},
    {"type": 3, "data": {"source": 4, "width": -5, "height": 10}, "timestamp": T0},
    {"type": 3, "data": {"source": 5, "id": -1, "text": 5}, "timestamp": T0},
    {"type": 3, "data": {"source": 99}, "timestamp": T0},
    {"type": 2, "data": {"node": "tree"}, "timestamp": T0},
    {"type": 2, "data": {"node": {"type": 0, "id": 1}, "initialOffset": [1]}, "timestamp": T0},
    {"type": 4, "data": {"href": 5, "width": "wide"}, "timestamp": T0},
    {"type": 5, "data": {"tag": None, "payload": None}, "timestamp": T0},
    {"type": 5, "data": {"tag": "sightline.error", "payload": "boom"}, "timestamp": T0},
    {
        "type": 5,
        "data": {"tag": "sightline.page", "payload": {"scrollHeight": "9"}},
        "timestamp": T0,
    },
    {"type": 5, "data": {"tag": "sightline.navigation", "payload": {"href": ""}}, "timestamp": T0},
    {"type": 8, "data": {"anything": 1}, "timestamp": T0},
    {"type": 3, "data": {"source": 2, "type": 2, "id": 4}, "timestamp": -(10**30)},
    {"type": 3, "data": {"source": 2, "type": 2, "id": 4}, "timestamp": 1.5},
]


def test_malformed_events_never_raise() -> None:
    derived = extract([*start(), *GARBAGE, click(T0 + 100, 4), *GARBAGE])
    assert len([e for e in of_kind(derived, Kind.CLICK) if e.selector == "button#go"]) >= 1


def test_scrambled_recordings_never_raise() -> None:
    rng = random.Random(7)
    replacements: list[Any] = [None, -1, "x", 1e308, [], {}, True, 10**20]
    for _ in range(30):
        events = copy.deepcopy(shop_events())
        rng.shuffle(events)
        for event in rng.sample(events, 20):
            data = event["data"]
            if isinstance(data, dict) and data:
                data[rng.choice(list(data))] = rng.choice(replacements)
        extract(events)
        extract(events, final=False)


def test_out_of_order_timestamps_are_tolerated() -> None:
    events = [*start(), click(T0 + 500, 4), click(T0 + 100, 17), mutation(T0 + 50)]
    derived = extract([*events, mouse_move(T0 + 5000)])
    assert len(of_kind(derived, Kind.CLICK)) == 2
    assert {e.selector for e in of_kind(derived, Kind.DEAD_CLICK)} == {
        "button#go",
        "html > body > div.panel",
    }
