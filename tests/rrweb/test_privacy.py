import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from core.rrweb.dom import NodeTable
from core.rrweb.privacy import (
    PrivacyPolicy,
    PrivacyState,
    apply_privacy,
    mask_input_value,
    validate_selectors,
)
from core.rrweb.selectors import SelectorError

DATA = Path(__file__).resolve().parent.parent / "data"
EMAIL = "jane@example.com"
PROMO = "Summer sale: 30% off everything"
DEFAULT = PrivacyPolicy()
# Indices of the shop recording's events aimed only at nodes inside .grid: a MouseMove over
# the first card, the four events of the click on its button, a MouseMove, the button's blur.
SHOP_EVENTS_INSIDE_GRID = {2, 3, 4, 5, 6, 8, 10}


def load(name: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads((DATA / name).read_text())
    return events


def shop() -> list[dict[str, Any]]:
    return load("recordings/shop-sample.json")


def sample() -> list[dict[str, Any]]:
    return load("rrweb-sample.json")


def run(events: list[dict[str, Any]], policy: PrivacyPolicy = DEFAULT) -> list[dict[str, Any]]:
    return apply_privacy(events, policy, PrivacyState())


def run_in_batches(
    batches: list[list[dict[str, Any]]], policy: PrivacyPolicy
) -> list[dict[str, Any]]:
    """Like the ingest endpoint: the state goes through a JSON document between batches."""
    result: list[dict[str, Any]] = []
    document: dict[str, Any] | None = None
    for batch in batches:
        state = PrivacyState.from_document(document)
        result += apply_privacy(batch, policy, state)
        document = json.loads(json.dumps(state.to_document()))
    return result


def incremental(source: int, **data: Any) -> dict[str, Any]:
    return {"type": 3, "data": {"source": source, **data}, "timestamp": 1}


def mutation(**data: Any) -> dict[str, Any]:
    return incremental(0, **{"texts": [], "attributes": [], "removes": [], "adds": [], **data})


def typed(nid: int, value: str) -> dict[str, Any]:
    return incremental(5, text=value, isChecked=False, id=nid)


def inputs(events: list[dict[str, Any]], nid: int) -> list[str]:
    return [
        e["data"]["text"]
        for e in events
        if e["type"] == 3 and e["data"]["source"] == 5 and e["data"]["id"] == nid
    ]


def snapshot_node(events: list[dict[str, Any]], nid: int) -> dict[str, Any]:
    snapshot = next(e for e in events if e["type"] == 2)
    stack = [snapshot["data"]["node"]]
    while stack:
        node = stack.pop()
        if node["id"] == nid:
            return node
        stack.extend(node.get("childNodes", []))
    raise AssertionError(f"node {nid} is not in the snapshot")


def mutations(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == 3 and e["data"]["source"] == 0]


def targets(event: dict[str, Any]) -> set[int]:
    data = event["data"]
    if event["type"] != 3 or data["source"] == 0:
        return set()
    return {p["id"] for p in data.get("positions", [])} | ({data["id"]} if "id" in data else set())


def element(tag: str, nid: int, children: list[Any] | None = None, **attributes: Any) -> Any:
    return {
        "type": 2,
        "tagName": tag,
        "attributes": attributes,
        "childNodes": children or [],
        "id": nid,
    }


def text(value: str, nid: int) -> dict[str, Any]:
    return {"type": 3, "textContent": value, "id": nid}


def add(parent: int, node: dict[str, Any], next_id: int | None = None) -> dict[str, Any]:
    return {"parentId": parent, "nextId": next_id, "node": node}


def form_page() -> list[dict[str, Any]]:
    body = element(
        "body",
        3,
        [
            element("input", 4, type="text", value="secret"),
            element("input", 5, type="hidden", value="token-123"),
            element("input", 6, type="checkbox", value="yes", checked=True),
            element("input", 7, type="submit", value="Send"),
            element("textarea", 8, [text("my note", 9)]),
            element(
                "select",
                10,
                [element("option", 11, [text("One", 12)], value="1", selected=True)],
                value="1",
            ),
            element("input", 13, type="text", value="pw2", **{"data-rr-is-password": "true"}),
            element("li", 14, value="3"),
        ],
    )
    document = {"type": 0, "childNodes": [element("html", 2, [body])], "id": 1}
    return [
        {
            "type": 4,
            "data": {"href": "https://shop.test/", "width": 800, "height": 600},
            "timestamp": 0,
        },
        {
            "type": 2,
            "data": {"node": document, "initialOffset": {"left": 0, "top": 0}},
            "timestamp": 0,
        },
    ]


def test_default_policy_masks_every_prefix_of_the_typed_email() -> None:
    out = run(shop())
    dumped = json.dumps(out)
    for end in range(3, len(EMAIL) + 1):
        assert EMAIL[:end] not in dumped
    assert inputs(out, 70) == ["*" * n for n in range(1, len(EMAIL) + 1)]
    assert inputs(out, 74) == ["*" * n for n in range(1, 8)]


def test_default_policy_masks_the_hand_built_sample() -> None:
    out = run(sample())
    assert EMAIL not in json.dumps(out)
    assert inputs(out, 19) == ["*" * len(EMAIL)]
    assert inputs(out, 21) == ["*******", "********"]


def test_recording_inputs_keeps_the_email_but_never_a_password() -> None:
    events = shop()
    snapshot_node(events, 74)["attributes"]["value"] = "hunter2"
    events.append(typed(74, "hunter2"))  # a recorder that forgot to mask it
    out = run(events, PrivacyPolicy(record_inputs=True))
    assert inputs(out, 70)[-1] == EMAIL
    assert inputs(out, 74)[-1] == "*******"
    assert snapshot_node(out, 74)["attributes"]["value"] == "*******"
    assert "hunter2" not in json.dumps(out)


def test_mask_selector_stars_the_promo_text_and_keeps_its_clicks() -> None:
    events = shop()
    out = run(events, PrivacyPolicy(mask_selectors=("#promo",)))
    assert snapshot_node(out, 25)["textContent"] == "****** ***** *** *** **********"
    assert snapshot_node(out, 31)["textContent"] == "Blue mug"
    assert "Summer" not in json.dumps(out)
    assert [targets(e) for e in out].count({24}) == [targets(e) for e in events].count({24})


def test_block_selector_removes_the_grid_and_events_inside_it() -> None:
    events = shop()
    table = NodeTable()
    table.apply_full_snapshot(events[1]["data"]["node"])
    inside = set(table.subtree(27))

    out = run(events, PrivacyPolicy(block_selectors=(".grid",)))

    grid = snapshot_node(out, 27)
    assert grid["tagName"] == "div"
    assert grid["attributes"] == {"class": "grid"}
    assert grid["childNodes"] == []
    dumped = json.dumps(out)
    for gone in ("Blue mug", "Red kettle", "Green teapot", "12.00 EUR", "Add to cart", "mug-blue"):
        assert gone not in dumped
    assert all(not targets(e) & inside for e in out)
    kept = [e for i, e in enumerate(events) if i not in SHOP_EVENTS_INSIDE_GRID]
    assert [(e["type"], e["timestamp"]) for e in out] == [(e["type"], e["timestamp"]) for e in kept]
    assert [p["id"] for p in out[7]["data"]["positions"]] == [19]  # was [37, 19]


def test_blocking_keeps_the_size_attributes_of_the_recorder() -> None:
    events = form_page()
    events[1]["data"]["node"]["childNodes"][0]["childNodes"][0]["attributes"] = {
        "class": "private",
        "style": "color: red",
        "rr_width": "800px",
        "rr_height": "600px",
    }
    out = run(events, PrivacyPolicy(block_selectors=("body",)))
    body = snapshot_node(out, 3)
    assert body["attributes"] == {"class": "private", "rr_width": "800px", "rr_height": "600px"}
    assert body["childNodes"] == []


def test_state_carries_masking_and_blocking_across_batches() -> None:
    events = shop()
    policy = PrivacyPolicy(mask_selectors=("#thanks", "#count"), block_selectors=(".grid",))
    batches = [events[:2], events[2:7], events[7:57], events[57:]]

    out = run_in_batches(batches, policy)

    added = [m["adds"][0]["node"] for m in mutations(out)]
    assert [(n["id"], n["textContent"]) for n in added] == [(85, "*"), (86, "*******")]
    assert all(not targets(e) & {34, 37} for e in out)
    assert out == run(events, policy)

    without_state = [e for batch in batches for e in apply_privacy(batch, policy, PrivacyState())]
    assert "Thanks!" in json.dumps(without_state)


@pytest.mark.parametrize("size", [1, 3, 10])
def test_batch_boundaries_do_not_change_the_result(size: int) -> None:
    events = shop()
    policy = PrivacyPolicy(mask_selectors=("#promo", "#cart"), block_selectors=(".card",))
    batches = [events[i : i + size] for i in range(0, len(events), size)]
    assert run_in_batches(batches, policy) == run(events, policy)


def test_later_text_change_inside_a_masked_element_is_masked() -> None:
    policy = PrivacyPolicy(mask_selectors=("#promo",))
    change = mutation(texts=[{"id": 25, "value": "Winter sale: 50% off"}])
    out = run_in_batches([shop()[:2], [change]], policy)
    assert mutations(out)[-1]["texts"] == [{"id": 25, "value": "****** ***** *** ***"}]


def test_element_added_in_a_later_batch_is_matched_by_its_own_selector() -> None:
    flash = mutation(
        adds=[
            add(14, element("div", 200, **{"class": "promo flash"})),
            add(200, text("Flash deal", 201)),
        ]
    )
    click = incremental(2, type=2, id=200, x=1, y=1)

    masked = run_in_batches([shop()[:2], [flash, click]], PrivacyPolicy(mask_selectors=(".flash",)))
    assert mutations(masked)[-1]["adds"][1]["node"]["textContent"] == "***** ****"
    assert masked[-1] == click

    blocked = run_in_batches(
        [shop()[:2], [flash, click]], PrivacyPolicy(block_selectors=(".flash",))
    )
    assert mutations(blocked)[-1]["adds"] == [flash["data"]["adds"][0]]
    assert blocked[-1] != click
    assert "Flash deal" not in json.dumps(blocked)


def test_combinators_over_unknown_ancestors_fail_closed() -> None:
    policy = PrivacyPolicy(mask_selectors=("#newsletter span",))
    spans = mutation(
        adds=[
            add(24, element("span", 210)),
            add(210, text("Ends soon", 211)),
            add(24, element("b", 212)),
            add(212, text("Today", 213)),
        ]
    )

    same_batch = run([*shop()[:2], spans], policy)
    assert mutations(same_batch)[-1] == spans["data"]  # #promo is known not to be in the form

    later_batch = run_in_batches([shop()[:2], [spans]], policy)
    added = [a["node"].get("textContent") for a in mutations(later_batch)[-1]["adds"]]
    assert added == [None, "**** ****", None, "Today"]  # only the <span> can match


def test_children_added_before_their_parent_inherit_its_masking() -> None:
    adds = [add(301, text("Hello there", 302)), add(24, element("span", 301))]
    out = run([*shop()[:2], mutation(adds=adds)], PrivacyPolicy(mask_selectors=("#promo",)))
    assert mutations(out)[-1]["adds"][0]["node"]["textContent"] == "***** *****"


def test_an_element_that_starts_matching_is_masked_or_blocked_from_then_on() -> None:
    policy = PrivacyPolicy(mask_selectors=(".secret",), block_selectors=(".hidden",))
    secret = mutation(
        attributes=[{"id": 60, "attributes": {"class": "secret"}}],
        texts=[{"id": 61, "value": "Coupon XYZ"}],
    )
    hide = mutation(attributes=[{"id": 54, "attributes": {"class": "hidden"}}])
    later = [
        mutation(texts=[{"id": 61, "value": "Coupon ABC"}, {"id": 57, "value": "7"}]),
        incremental(2, type=2, id=56, x=1, y=1),
    ]
    out = run_in_batches([[*shop()[:2], secret, hide], later], policy)
    assert mutations(out)[0]["texts"] == [{"id": 61, "value": "****** ***"}]
    assert mutations(out)[-1]["texts"] == [{"id": 61, "value": "****** ***"}]
    assert out[-1]["data"]["source"] == 0  # the click inside the now hidden #cart is gone


def test_mutation_only_inside_blocked_content_is_dropped() -> None:
    events = shop()
    out = run(events, PrivacyPolicy(block_selectors=("#count",)))
    assert len(mutations(out)) == 1
    assert len(out) == len(events) - 1
    assert snapshot_node(out, 56)["childNodes"] == []


def test_removing_a_blocked_element_is_kept_but_removals_inside_it_are_not() -> None:
    removes = [{"parentId": 27, "id": 29}, {"parentId": 14, "id": 27}]
    out = run([*shop()[:2], mutation(removes=removes)], PrivacyPolicy(block_selectors=(".grid",)))
    assert mutations(out)[-1]["removes"] == [{"parentId": 14, "id": 27}]


def test_removed_nodes_leave_the_state() -> None:
    policy = PrivacyPolicy(mask_selectors=("#promo",), block_selectors=(".grid",))
    removes = [{"parentId": 14, "id": 24}, {"parentId": 14, "id": 27}]
    state = PrivacyState()
    apply_privacy([*shop()[:2], mutation(removes=removes)], policy, state)
    assert state.to_document() == {
        "masked_ids": [],
        "blocked_ids": [],
        "password_ids": [74],
        "toggle_ids": [],
    }


def test_hand_built_sample_masks_text_added_under_a_masked_form() -> None:
    out = run(sample(), PrivacyPolicy(mask_selectors=("form",)))
    assert snapshot_node(out, 17)["textContent"] == "*****"
    added = mutations(out)[-1]["adds"]
    assert [a["node"].get("textContent") for a in added] == [None, "******* ***** **** ******"]
    assert snapshot_node(out, 28)["textContent"] == "See pricing"

    own = run(sample(), PrivacyPolicy(mask_selectors=("#status",)))
    assert mutations(own)[-1]["adds"][1]["node"]["textContent"] == "******* ***** **** ******"


def test_values_are_masked_in_snapshots_mutations_and_input_events() -> None:
    events = [
        *form_page(),
        mutation(adds=[add(3, element("input", 20, value="added"))]),
        mutation(
            attributes=[
                {"id": 4, "attributes": {"value": "typed"}},
                {"id": 14, "attributes": {"value": "4"}},
            ]
        ),
        typed(4, "abc"),
        incremental(5, text="yes", isChecked=True, id=6),
        typed(13, "pw"),
    ]
    out = run(events)
    values = {
        nid: snapshot_node(out, nid)["attributes"].get("value") for nid in (4, 5, 6, 7, 10, 13, 14)
    }
    assert values == {4: "******", 5: "*********", 6: "yes", 7: "Send", 10: "*", 13: "***", 14: "3"}
    assert snapshot_node(out, 9)["textContent"] == "** ****"
    assert "selected" not in snapshot_node(out, 11)["attributes"]
    assert snapshot_node(out, 12)["textContent"] == "One"
    assert mutations(out)[0]["adds"][0]["node"]["attributes"]["value"] == "*****"
    assert mutations(out)[1]["attributes"] == [
        {"id": 4, "attributes": {"value": "*****"}},
        {"id": 14, "attributes": {"value": "4"}},
    ]
    assert [inputs(out, nid) for nid in (4, 6, 13)] == [["***"], ["yes"], ["**"]]


def test_recording_inputs_keeps_values_except_passwords() -> None:
    events = [*form_page(), typed(4, "abc"), typed(13, "pw")]
    out = run(events, PrivacyPolicy(record_inputs=True))
    assert snapshot_node(out, 4)["attributes"]["value"] == "secret"
    assert snapshot_node(out, 9)["textContent"] == "my note"
    assert snapshot_node(out, 11)["attributes"]["selected"] is True
    assert snapshot_node(out, 13)["attributes"]["value"] == "***"
    assert [inputs(out, 4), inputs(out, 13)] == [["abc"], ["**"]]


def test_an_input_turned_into_a_password_later_stays_masked() -> None:
    policy = PrivacyPolicy(record_inputs=True)
    to_password = mutation(attributes=[{"id": 4, "attributes": {"type": "password"}}])
    shown = mutation(
        attributes=[{"id": 4, "attributes": {"type": "text", "data-rr-is-password": "true"}}]
    )
    batches = [
        form_page(),
        [typed(4, "ab")],
        [to_password],
        [typed(4, "abc"), shown],
        [typed(4, "abcd")],
    ]
    out = run_in_batches(batches, policy)
    assert inputs(out, 4) == ["ab", "***", "****"]


def test_checkbox_values_stay_readable_in_later_batches() -> None:
    out = run_in_batches([form_page(), [incremental(5, text="yes", isChecked=True, id=6)]], DEFAULT)
    assert inputs(out, 6) == ["yes"]


def test_inputs_of_unknown_elements_are_masked() -> None:
    out = run_in_batches([[typed(999, "who knows")], [typed(-1, "x")]], DEFAULT)
    assert inputs(out, 999) == ["*********"]
    assert inputs(out, -1) == ["*"]


def test_script_and_style_text_is_never_masked() -> None:
    events = [
        *shop()[:2],
        mutation(adds=[add(82, text("console.log(1)", 400))], texts=[{"id": 10, "value": "p{}"}]),
    ]
    out = run(events, PrivacyPolicy(mask_selectors=("*",)))
    assert snapshot_node(out, 12)["textContent"] == "SCRIPT_PLACEHOLDER"
    assert snapshot_node(out, 83)["textContent"] == "SCRIPT_PLACEHOLDER"
    assert snapshot_node(out, 9)["attributes"] == snapshot_node(events, 9)["attributes"]
    assert snapshot_node(out, 7)["textContent"] == "**** ****"
    assert mutations(out)[-1] == events[-1]["data"]


def test_a_policy_selector_that_does_not_parse_fails_closed() -> None:
    out = run(shop(), PrivacyPolicy(mask_selectors=("a:hover",)))
    assert snapshot_node(out, 25)["textContent"] == "****** ***** *** *** **********"
    assert snapshot_node(out, 12)["textContent"] == "SCRIPT_PLACEHOLDER"


POLICIES = [
    DEFAULT,
    PrivacyPolicy(record_inputs=True),
    PrivacyPolicy(mask_selectors=("#promo",), block_selectors=(".grid",)),
    PrivacyPolicy(mask_selectors=("*",), block_selectors=("form", "#count")),
]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("recording", [shop, sample, form_page])
def test_masking_is_idempotent(policy: PrivacyPolicy, recording: Any) -> None:
    once = run(recording(), policy)
    assert run(copy.deepcopy(once), policy) == once


@pytest.mark.parametrize("policy", POLICIES)
def test_the_callers_events_are_never_modified(policy: PrivacyPolicy) -> None:
    events = shop()
    before = copy.deepcopy(events)
    out = run(events, policy)
    assert events == before
    assert out[0] is events[0]  # unchanged events are passed through as they are
    assert out[-1] is events[-1]


GARBAGE: list[Any] = [
    None,
    1,
    "event",
    [],
    {},
    {"type": 2},
    {"type": 2, "data": None},
    {"type": 2, "data": {"node": "html"}},
    {"type": 2, "data": {"node": {"type": "x"}}},
    {"type": 2, "data": {"node": {"type": 0, "id": 1, "childNodes": [None, 7, {"type": 3}]}}},
    {"type": 3, "data": {"source": 0}},
    {"type": 3, "data": {"source": 0, "adds": "x", "removes": 5, "texts": None, "attributes": {}}},
    {
        "type": 3,
        "data": {
            "source": 0,
            "adds": [None, {"node": 5}, {"parentId": "1", "node": {"type": 3}}],
            "removes": [{"id": -1}, "x"],
            "texts": [{"id": [1]}],
            "attributes": [{"id": {}, "attributes": 1}, {"id": 3, "attributes": [1]}],
        },
    },
    {"type": 3, "data": {"source": 5, "text": None, "id": []}},
    {"type": 3, "data": {"source": 5, "text": 12, "id": 1}},
    {"type": 3, "data": {"source": [1], "id": {}}},
    {"type": 3, "data": {"source": 1, "positions": "x"}},
    {"type": 3, "data": {"source": 1, "positions": [None, {"id": []}, 5]}},
    {"type": 99, "data": {"source": 5, "text": "kept as it is"}},
    {"type": True, "data": {}},
    {"type": "2", "data": {"node": {}}},
]


@pytest.mark.parametrize("policy", POLICIES)
def test_malformed_events_pass_through_untouched(policy: PrivacyPolicy) -> None:
    out = apply_privacy(list(GARBAGE), policy, PrivacyState({1}, {1, 3}, {1}, {1}))
    assert len(out) == len(GARBAGE)
    assert all(kept is original for kept, original in zip(out, GARBAGE, strict=True))


def scramble(value: Any, rng: random.Random) -> Any:
    """A copy of `value` with some leaves and containers replaced by wrong types."""
    if rng.random() < 0.03:
        return rng.choice([None, -1, 0, True, 3.5, "x", [], {}, [None], {"id": -1}, 2, 5])
    if isinstance(value, dict):
        return {key: scramble(item, rng) for key, item in value.items()}
    if isinstance(value, list):
        return [scramble(item, rng) for item in value]
    return value


@pytest.mark.parametrize("seed", range(40))
def test_scrambled_recordings_never_raise(seed: int) -> None:
    rng = random.Random(seed)
    events = [scramble(event, rng) for event in shop() + sample()]
    for policy in POLICIES:
        state = PrivacyState()
        out = apply_privacy(events, policy, state)
        assert len(out) <= len(events)
        json.dumps(state.to_document())


def test_state_documents_round_trip_and_tolerate_garbage() -> None:
    state = PrivacyState(masked_ids={3, 1}, blocked_ids={2}, password_ids={5}, toggle_ids={4})
    document = state.to_document()
    assert document == {
        "masked_ids": [1, 3],
        "blocked_ids": [2],
        "password_ids": [5],
        "toggle_ids": [4],
    }
    assert PrivacyState.from_document(json.loads(json.dumps(document))) == state
    bad: list[Any] = [None, "x", [], {}, {"masked_ids": "123"}, {"blocked_ids": {"1": 2}}]
    for garbage in bad:
        assert PrivacyState.from_document(garbage) == PrivacyState()
    mixed = PrivacyState.from_document({"masked_ids": [1, "2", True, -1, 3.5, None, 7]})
    assert mixed.masked_ids == {1, 7}


def test_validate_selectors_trims_and_names_the_bad_selector() -> None:
    assert validate_selectors([" #promo ", ".grid > button"]) == ["#promo", ".grid > button"]
    assert validate_selectors([]) == []
    with pytest.raises(SelectorError) as raised:
        validate_selectors(["#promo", "a:hover"])
    assert "'a:hover'" in str(raised.value)
    assert "':hover'" in str(raised.value)
    with pytest.raises(SelectorError, match="Selector number 2 is empty"):
        validate_selectors(["#promo", " "])


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("", ""),
        ("abc", "***"),
        ("a b", "***"),
        ("é", "*"),
        ("😀", "**"),
        ("\ud800", "*"),
        ("**", "**"),
    ],
)
def test_input_masking_counts_utf16_code_units(value: str, masked: str) -> None:
    assert mask_input_value(value) == masked
