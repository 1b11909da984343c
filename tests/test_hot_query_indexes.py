"""Each hot query in `storage.hot_queries` has the index it names, and that index serves it.

An index serves a query when its keys start with the query's equality fields
(in any order), followed by its sort fields in order (all in the same or all in
the opposite direction), or by its range field when it does not sort. Checked on
the definitions in `storage.indexes`, so neither can change without the other.
"""

import importlib
from pathlib import Path

import pytest

from storage.hot_queries import HOT_QUERIES, PRIMARY, HotQuery
from storage.indexes import INDEXES

Keys = list[tuple[str, int]]
SCALING = Path(__file__).resolve().parent.parent / "docs" / "scaling.md"


def _index_keys(collection: str, name: str) -> Keys:
    if name == PRIMARY:
        return [("_id", 1)]
    for model in INDEXES.get(collection, []):
        if model.document["name"] == name:
            return list(model.document["key"].items())
    raise AssertionError(f"{collection} has no index named {name}")


def _serves(keys: Keys, query: HotQuery) -> bool:
    n = len(query.equality)
    if {field for field, _ in keys[:n]} != set(query.equality):
        return False
    rest = keys[n:]
    if query.sort:
        wanted = list(query.sort)
        reversed_ = [(field, -direction) for field, direction in wanted]
        return rest[: len(wanted)] in (wanted, reversed_)
    return query.range is None or (bool(rest) and rest[0][0] == query.range)


def _resolves(dotted: str) -> bool:
    module, _, name = dotted.rpartition(".")
    return callable(getattr(importlib.import_module(module), name, None))


@pytest.mark.parametrize("query", HOT_QUERIES, ids=[q.name for q in HOT_QUERIES])
def test_the_named_index_serves_the_hot_query(query: HotQuery) -> None:
    keys = _index_keys(query.collection, query.index)
    assert _serves(keys, query), f"{query.index} {keys} does not serve {query.name}"


@pytest.mark.parametrize("query", HOT_QUERIES, ids=[q.name for q in HOT_QUERIES])
def test_the_catalog_entry_is_consistent(query: HotQuery) -> None:
    assert _resolves(query.function), f"{query.function} does not exist"
    fields = {*query.equality, *(f for f, _ in query.sort), *([query.range] if query.range else [])}
    example = {*query.filter, *(f for f, _ in query.sort)}
    assert fields <= example, "the example explain runs lacks a field the index must serve"


def test_the_rule_refuses_an_index_that_does_not_serve() -> None:
    by_start = _index_keys("sessions", "by_start")
    by_duration = HotQuery("x", "f", "sessions", "by_start", ("site_id",), (("duration_ms", -1),))
    assert not _serves(by_start, by_duration)
    no_site = HotQuery("x", "f", "sessions", "by_start", ("visitor_id",), (("started_at", -1),))
    assert not _serves(by_start, no_site)
    backwards = HotQuery(
        "x", "f", "sessions", "by_start", ("site_id",), (("started_at", 1), ("_id", -1))
    )
    assert not _serves(by_start, backwards)


def test_the_scaling_guide_lists_every_hot_query_with_its_index() -> None:
    rows = [line for line in SCALING.read_text().splitlines() if line.startswith("| ")]
    for query in HOT_QUERIES:
        row = next((r for r in rows if r.startswith(f"| {query.name} |")), None)
        assert row is not None, f"docs/scaling.md has no row for {query.name}"
        assert f"`{query.index}`" in row, row
        assert f"`{query.collection}`" in row, row
