"""Hypothesis strategies for rrweb event streams from browsers we do not control.

Everything here is JSON a client could send: wrong types at every level, ids that are not
ids, numbers beyond int64 and beyond a double's integers, keys that MongoDB refuses
(`$`-prefixed, dotted, NUL), unknown event types and sources, mutations aimed at unknown nodes.
"""

from typing import Any

from hypothesis import strategies as st

TS_MIN = 1_795_910_000_000
TS_MAX = 1_795_911_000_000
HAZARD_KEYS = ["$where", "$set", "a.b", ".", "$", "", "\x00", "__proto__", "id", "type"]
HUGE_NUMBERS = [2**53 + 1, 2**63, 2**64 - 1, -(2**63), 1e308, -1e308, 5e-324, -0.0]
TAGS = ["div", "button", "a", "input", "textarea", "select", "option", "form", "label", "html",
        "body", "script", "style", "iframe", "SPAN", "x" * 300, ""]  # fmt: skip
CUSTOM_TAGS = ["sightline.track", "sightline.error", "sightline.navigation", "sightline.page",
               "sightline.submit", "$error", "other", ""]  # fmt: skip

keys = st.one_of(st.sampled_from(HAZARD_KEYS), st.sampled_from(HAZARD_KEYS), st.text(max_size=8))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(HUGE_NUMBERS),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=12,
)
json_objects = st.dictionaries(keys, json_values, max_size=4)


def junk_or(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly `strategy`, sometimes any JSON value in its place (a wrong type)."""
    return st.one_of(strategy, strategy, strategy, json_values)


node_ids = junk_or(st.integers(min_value=-2, max_value=30) | st.sampled_from([2**53, 2**63]))
numbers = junk_or(st.integers(-10, 5000) | st.floats(-1e4, 1e6) | st.sampled_from(HUGE_NUMBERS))
attributes = junk_or(
    st.dictionaries(
        st.sampled_from(
            [
                "id",
                "class",
                "type",
                "value",
                "href",
                "for",
                "selected",
                "data-rr-is-password",
                "$x",
                "a.b",
            ]
        ),
        junk_or(st.text(max_size=12)),
        max_size=4,
    )
)


def _node(children: st.SearchStrategy[Any] | None) -> st.SearchStrategy[dict[str, Any]]:
    optional = {
        "tagName": junk_or(st.sampled_from(TAGS)),
        "attributes": attributes,
        "textContent": junk_or(st.text(max_size=12)),
        "isStyle": st.booleans(),
    }
    if children is not None:
        optional["childNodes"] = junk_or(st.lists(children, max_size=4))
    return st.fixed_dictionaries(
        {"type": junk_or(st.integers(0, 6)), "id": node_ids}, optional=optional
    )


serialized_nodes = st.recursive(_node(None), _node, max_leaves=12)

_mutation = st.fixed_dictionaries(
    {"source": st.just(0)},
    optional={
        "adds": junk_or(
            st.lists(
                st.fixed_dictionaries(
                    {"parentId": node_ids, "node": junk_or(serialized_nodes)},
                    optional={"nextId": node_ids},
                ),
                max_size=4,
            )
        ),
        "removes": junk_or(
            st.lists(st.fixed_dictionaries({"id": node_ids, "parentId": node_ids}), max_size=3)
        ),
        "texts": junk_or(
            st.lists(
                st.fixed_dictionaries({"id": node_ids, "value": junk_or(st.text(max_size=8))}),
                max_size=3,
            )
        ),
        "attributes": junk_or(
            st.lists(st.fixed_dictionaries({"id": node_ids, "attributes": attributes}), max_size=3)
        ),
    },
)
_interaction = st.fixed_dictionaries(
    {"source": junk_or(st.integers(1, 17) | st.sampled_from([99, -1]))},
    optional={
        "type": junk_or(st.integers(0, 11)),
        "id": node_ids,
        "x": numbers,
        "y": numbers,
        "width": numbers,
        "height": numbers,
        "text": junk_or(st.text(max_size=10)),
        "isChecked": st.booleans(),
        "userTriggered": st.booleans(),
        "positions": junk_or(
            st.lists(
                st.fixed_dictionaries({"id": node_ids, "x": numbers, "y": numbers}), max_size=3
            )
        ),
    },
)
_meta = st.fixed_dictionaries(
    {}, optional={"href": junk_or(st.text(max_size=30)), "width": numbers, "height": numbers}
)
_custom = st.fixed_dictionaries(
    {"tag": junk_or(st.sampled_from(CUSTOM_TAGS) | st.just("sightline.track"))},
    optional={
        "payload": junk_or(
            st.fixed_dictionaries(
                {},
                optional={
                    "name": junk_or(st.text(min_size=1, max_size=10)),
                    "properties": junk_or(json_objects),
                    "message": junk_or(st.text(max_size=10)),
                    "href": junk_or(st.text(max_size=20)),
                    "selector": junk_or(st.text(max_size=20)),
                    "scrollHeight": numbers,
                },
            )
        )
    },
)
_full_snapshot = st.fixed_dictionaries(
    {"node": junk_or(serialized_nodes)},
    optional={"initialOffset": junk_or(st.fixed_dictionaries({"left": numbers, "top": numbers}))},
)


def rrweb_events(timestamps: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """One event: of a known type with plausible (or hostile) data, or of an unknown type."""
    typed = [
        (2, _full_snapshot),
        (3, _mutation | _interaction),
        (4, _meta),
        (5, _custom),
        (6, json_objects),
    ]
    known = st.one_of(
        *(
            st.fixed_dictionaries({"type": st.just(t), "data": data, "timestamp": timestamps})
            for t, data in typed
        )
    )
    unknown = st.fixed_dictionaries(
        {"type": st.integers(0, 64), "data": json_objects, "timestamp": timestamps}
    )
    return st.one_of(known, known, known, unknown)


valid_timestamps = st.integers(TS_MIN, TS_MAX)
event_lists = st.lists(rrweb_events(valid_timestamps), min_size=1, max_size=12)
hostile_events = st.lists(
    st.one_of(rrweb_events(valid_timestamps), rrweb_events(junk_or(valid_timestamps)), json_values),
    max_size=25,
)
