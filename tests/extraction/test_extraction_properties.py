"""Property tests of the rrweb parsing in the workers: whatever stream ingest accepted, the
DOM mirror, the privacy enforcement and the extractor neither raise nor hang, and what they
produce can be stored in MongoDB (FerretDB's rules: no `$`-prefixed or dotted keys, ints within
64 bits, finite floats, documents under 16 MB)."""

import copy
import itertools
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import bson
import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from core.config import Settings
from core.derived_events import Kind
from core.rrweb.dom import NodeTable
from core.rrweb.privacy import PrivacyPolicy, PrivacyState, apply_privacy
from storage.database import Database
from tests.conftest import serve
from tests.extraction.helpers import (
    T0,
    click,
    document,
    element,
    extract,
    meta,
    of_kind,
    snapshot,
    start,
    track,
)
from tests.hostile_rrweb import (
    TS_MAX,
    hostile_events,
    json_objects,
    node_ids,
    rrweb_events,
    serialized_nodes,
    valid_timestamps,
)
from tests.ingest_helpers import batch_body, post_batch
from tests.world_fixtures import new_site
from workers import processing
from workers.extraction.extractor import Extractor

EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_DOCUMENT_BYTES = 16 * 2**20
policies = st.builds(
    PrivacyPolicy,
    record_inputs=st.booleans(),
    mask_selectors=st.lists(
        st.sampled_from(["div", ".a p", "#x", "button", "[", ""]), max_size=2
    ).map(tuple),
    block_selectors=st.lists(st.sampled_from(["form", "input", "a > b", "*", "]"]), max_size=2).map(
        tuple
    ),
)


def storage_problems(value: Any, where: str = "doc") -> list[str]:
    """Why MongoDB (FerretDB 1.24) would refuse `value` as (part of) a document."""
    if isinstance(value, dict):
        problems = []
        for key, item in value.items():
            if not isinstance(key, str) or key.startswith("$") or "." in key or "\x00" in key:
                problems.append(f"{where}: key {key!r}")
            problems += storage_problems(item, f"{where}.{key}")
        return problems
    if isinstance(value, list):
        nested = [f"{where}: nested array"] if any(isinstance(i, list) for i in value) else []
        return nested + [
            p for i, item in enumerate(value) for p in storage_problems(item, f"{where}.{i}")
        ]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    if isinstance(value, int):
        return [] if -(2**63) <= value < 2**63 else [f"{where}: int {value}"]
    if isinstance(value, float):
        return [] if math.isfinite(value) else [f"{where}: float {value}"]
    return [f"{where}: {type(value).__name__}"]


def assert_storable(doc: dict[str, Any]) -> None:
    assert storage_problems(doc) == []
    assert len(bson.encode(doc)) < MAX_DOCUMENT_BYTES


def _split(events: list[Any], cuts: list[int]) -> list[list[Any]]:
    bounds = sorted({0, len(events), *(c % (len(events) + 1) for c in cuts)})
    return [events[a:b] for a, b in itertools.pairwise(bounds)]


@EXAMPLES
@given(events=hostile_events, cuts=st.lists(st.integers(0, 100), max_size=4))
def test_the_extractor_takes_any_stream_in_any_slices_and_yields_storable_events(
    events: list[Any], cuts: list[int]
) -> None:
    whole = Extractor()
    at_once = whole.feed(copy.deepcopy(events)) + whole.finish(final=True)
    sliced = Extractor()
    in_slices = [d for part in _split(copy.deepcopy(events), cuts) for d in sliced.feed(part)]
    in_slices += sliced.finish(final=True)
    assert [d.to_document() for d in in_slices] == [d.to_document() for d in at_once]
    keys = [d.key() for d in at_once]
    assert len(keys) == len(set(keys))
    for derived in at_once:
        assert_storable(derived.to_document())


@EXAMPLES
@given(events=hostile_events, policy=policies)
def test_privacy_takes_any_stream_leaves_it_untouched_and_keeps_a_storable_state(
    events: list[Any], policy: PrivacyPolicy
) -> None:
    original = copy.deepcopy(events)
    state = PrivacyState()
    enforced = apply_privacy(events, policy, state)
    assert events == original
    assert len(enforced) <= len(events)
    assert_storable(state.to_document())
    again = PrivacyState.from_document(state.to_document())
    assert again == state
    apply_privacy(enforced, policy, again)


def _consistent(table: NodeTable, ids: list[int]) -> None:
    """Every node's parent lists it as a child, and walking up ends (no cycles)."""
    for nid in ids:
        node = table.get(nid)
        if node is None:
            continue
        for child in node.children:
            assert table.parent_id(child) == nid
        if node.parent is not None:
            assert nid in table.children(node.parent)
        assert len(table.ancestors(nid)) < len(table)


mutations = st.fixed_dictionaries(
    {},
    optional={
        "adds": st.lists(
            st.fixed_dictionaries(
                {"parentId": node_ids, "node": serialized_nodes}, optional={"nextId": node_ids}
            ),
            max_size=5,
        ),
        "removes": st.lists(st.fixed_dictionaries({"id": node_ids}), max_size=3),
    },
)


@EXAMPLES
@given(snapshot=serialized_nodes, changes=st.lists(mutations, max_size=4))
def test_the_dom_mirror_stays_a_tree_whatever_the_mutations(
    snapshot: Any, changes: list[Any]
) -> None:
    table = NodeTable()
    table.apply_full_snapshot(snapshot)
    for change in changes:
        table.apply_mutation(change)
        _consistent(table, list(range(-2, 31)))


def test_custom_properties_with_mongodb_hazards_are_stored_escaped() -> None:
    """A `$`-prefixed or dotted key, an int beyond 64 bits or a list in a list once made the
    events write fail on every run: the session's extraction never completed."""
    properties = {"$current_url": "/cart", "a.b": 2**63, "50%": [1e308], "deep": _nest(20),
                  "grid": [[1, 2], [3]]}  # fmt: skip
    derived = extract([*start(), track(T0 + 5, "checkout", **properties)])
    [doc] = [d.to_document() for d in of_kind(derived, Kind.CUSTOM)]
    assert_storable(doc)
    assert doc["properties"]["%24current_url"] == "/cart"
    assert doc["properties"]["a%2Eb"] == float(2**63)
    assert doc["properties"]["50%25"] == [1e308]
    assert doc["properties"]["grid"] == ["[1,2]", "[3]"]


def _nest(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def test_a_click_on_an_element_with_enormous_names_is_storable() -> None:
    """Tag and class names of 9 MB each once made a click event over MongoDB's 16 MB limit."""
    huge = element("b" * 9 * 2**20, 20, attrs={"class": "c" * 9 * 2**20})
    derived = extract([meta(T0), snapshot(T0 + 1, document([huge])), click(T0 + 2, 20)])
    [doc] = [d.to_document() for d in of_kind(derived, Kind.CLICK)]
    assert_storable(doc)
    assert doc["selector"].startswith("html > body > " + "b" * 100)


class _Unreadable(dict[str, Any]):
    """An event whose data cannot be read: stands for any event a handler fails on."""

    def get(self, key: str, default: Any = None) -> Any:
        raise RuntimeError("unreadable")


def test_an_event_a_handler_fails_on_is_skipped_with_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = {"type": 3, "data": _Unreadable(source=2), "timestamp": T0 + 2}
    derived = extract([*start(), broken, click(T0 + 3, 4)])
    assert "extraction.bad_event" in caplog.text
    [clicked] = of_kind(derived, Kind.CLICK)
    assert clicked.selector == "button#go"


@dataclass
class ShopSite:
    client: httpx.AsyncClient
    db: Database
    key: str
    site_id: str
    sessions: "itertools.count[int]" = field(default_factory=itertools.count)


@pytest_asyncio.fixture
async def shop_site(settings: Settings, db: Database, redis: Redis) -> AsyncIterator[ShopSite]:
    unthrottled = settings.model_copy(update={"SIGHTLINE_INGEST_RATE_LIMIT": "1000000/minute"})
    async with serve(unthrottled) as client:
        site = await new_site(client)
        yield ShopSite(client, db, site.tracking_key, site.id)


def _known_tail(at: int) -> list[dict[str, Any]]:
    """A page the hostile events cannot have touched, and a click on its button."""
    button = element("button", 1003, [], id="known-button")
    html = element("html", 1001, [element("body", 1002, [button])])
    page = {"type": 0, "id": 1000, "childNodes": [html]}
    return [meta(at), snapshot(at + 1, page), click(at + 2, 1003)]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    events=st.lists(rrweb_events(valid_timestamps), min_size=1, max_size=15),
    properties=json_objects,
)
async def test_processing_any_accepted_stream_completes_and_extracts_the_rest(
    shop_site: ShopSite, events: list[dict[str, Any]], properties: dict[str, Any]
) -> None:
    session_id = f"prop-session-{next(shop_site.sessions):06d}"
    custom = [{"name": "checkout", "timestamp": TS_MAX, "properties": properties}]
    batches = [(events, {"custom": custom}), (_known_tail(TS_MAX), {})]
    for seq, (batch, extra) in enumerate(batches):
        body = batch_body(shop_site.key, batch, seq=seq, session_id=session_id, **extra)
        response = await post_batch(shop_site.client, body)
        assert response.json() == {"status": "stored"}, response.text

    report = await processing.process_session(
        shop_site.db, shop_site.site_id, session_id, final=True
    )

    assert report.status == "done"
    chunks = shop_site.db["recording_chunks"].find({"session_id": session_id})
    assert [c["processed"] async for c in chunks] == [True, True]
    clicks = shop_site.db["events"].find(
        {"session_id": session_id, "kind": "click", "selector": "button#known-button"}
    )
    assert len(await clicks.to_list(None)) == 1
