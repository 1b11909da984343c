"""Server-side enforcement of a site's privacy settings on a batch of rrweb events.

The ingest endpoint runs `apply_privacy` on every batch before anything is stored, so a
misconfigured or tampered recorder cannot store what the site forbade (the server-side twin of
rrweb's `maskAllInputs`, `maskTextSelector` and `blockSelector` recording options):

- Inputs, unless the site records them: `value` attributes of input, textarea and select
  elements, Input event texts and `value` attribute mutations become one `*` per UTF-16 code
  unit; textarea text is masked like masked text; `<option selected>` is dropped. Checkbox and
  radio values and the labels of submit, button and reset inputs are left alone, as rrweb does.
- Passwords (type=password or `data-rr-is-password`) are masked even when inputs are recorded.
- Text inside an element matching a mask selector becomes `*` per non-space character, except
  under <script> and <style>.
- An element matching a block selector keeps its tag and only its class, rr_width and
  rr_height attributes, loses its children, and every event aimed at it or inside it is
  dropped (mutations, interactions, inputs, scrolls, media, canvas, pointer positions).

Selectors are matched against a NodeTable rebuilt from the batch itself. What a node is (masked,
blocked, password, checkbox) is decided when it enters the DOM and kept in PrivacyState, so a
later batch that adds text under a masked element, or clicks inside a blocked one, is handled
without the earlier snapshot. Limitations that follow, all erring towards masking more:
- In a batch without a FullSnapshot, elements from earlier batches are unknown, so a selector
  with combinators (`.account p`) cannot be checked on a node added under them. Such a node is
  masked or blocked when it matches the rightmost part (`p`), wherever it is: over-masking
  rather than a leak. Inheritance from an already masked or blocked parent is exact.
- A node keeps its classification until it is removed or the page is snapshotted again; an
  attribute change can make an element masked or blocked (when it is in the batch's table),
  never unmasked.
- Removing a subtree recorded in an earlier batch forgets only its root's id: its descendants'
  ids stay in the state until the next FullSnapshot (harmless, as rrweb never reuses an id
  within a page, but the state grows with such removals).
- Shadow roots and iframes do not stop inheritance (rrweb's `closest()` would stop there).
- A selector in a policy that does not parse is treated as `*` (fail closed): validate
  selectors with `validate_selectors` before saving them.

Anything malformed or unknown is passed through untouched; nothing here raises on bad input.
"""

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from core.rrweb.dom import NodeTable, as_node_id, iter_dicts
from core.rrweb.events import EventType, IncrementalSource, NodeType
from core.rrweb.selectors import SelectorError, SelectorList, parse_selector_list

_FORM_TAGS = frozenset({"input", "textarea", "select"})
_NON_TEXT_TAGS = frozenset({"script", "style"})
_TOGGLE_TYPES = frozenset({"checkbox", "radio"})
_UNMASKED_INPUT_TYPES = _TOGGLE_TYPES | {"submit", "button", "reset"}
_BLOCKED_KEPT_ATTRIBUTES = ("class", "rr_width", "rr_height")
_POSITION_SOURCES = frozenset(
    {IncrementalSource.MouseMove, IncrementalSource.TouchMove, IncrementalSource.Drag}
)
_MUTATION_KEYS = ("removes", "adds", "texts", "attributes")
_NON_SPACE = re.compile(r"\S")
_MATCH_ALL = parse_selector_list("*")
_DROP: Any = object()


def mask_input_value(value: str) -> str:
    """One `*` per UTF-16 code unit, like rrweb's maskInputValue (an emoji becomes `**`)."""
    return "*" * (len(value.encode("utf-16-le", "surrogatepass")) // 2)


def mask_text(value: str) -> str:
    """Every non-whitespace character becomes `*`, so the shape of the text survives."""
    return _NON_SPACE.sub("*", value)


@dataclass(frozen=True)
class PrivacyPolicy:
    record_inputs: bool = False
    mask_selectors: tuple[str, ...] = ()
    block_selectors: tuple[str, ...] = ()


@dataclass
class PrivacyState:
    """What earlier batches of one session decided about node ids, for the batches after them.

    masked_ids: nodes whose text is masked (elements, and the text nodes inside them);
    blocked_ids: blocked elements and everything that was inside them;
    password_ids: password inputs; toggle_ids: checkbox and radio inputs.
    """

    masked_ids: set[int] = field(default_factory=set)
    blocked_ids: set[int] = field(default_factory=set)
    password_ids: set[int] = field(default_factory=set)
    toggle_ids: set[int] = field(default_factory=set)

    def to_document(self) -> dict[str, list[int]]:
        return {
            "masked_ids": sorted(self.masked_ids),
            "blocked_ids": sorted(self.blocked_ids),
            "password_ids": sorted(self.password_ids),
            "toggle_ids": sorted(self.toggle_ids),
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any] | None) -> "PrivacyState":
        if not isinstance(doc, dict):
            return cls()
        return cls(
            masked_ids=_id_set(doc.get("masked_ids")),
            blocked_ids=_id_set(doc.get("blocked_ids")),
            password_ids=_id_set(doc.get("password_ids")),
            toggle_ids=_id_set(doc.get("toggle_ids")),
        )

    def clear(self) -> None:
        for ids in self._sets():
            ids.clear()

    def forget(self, node_ids: Collection[int]) -> None:
        for ids in self._sets():
            ids.difference_update(node_ids)

    def _sets(self) -> tuple[set[int], ...]:
        return (self.masked_ids, self.blocked_ids, self.password_ids, self.toggle_ids)


def _id_set(value: object) -> set[int]:
    if not isinstance(value, list):
        return set()
    return {nid for nid in map(as_node_id, value) if nid is not None}


def validate_selectors(selectors: list[str]) -> list[str]:
    """The selectors, trimmed, once each parses; SelectorError names the first one that does not."""
    for number, text in enumerate(selectors, start=1):
        if not text.strip():
            raise SelectorError(f"Selector number {number} is empty.")
        parse_selector_list(text)
    return [text.strip() for text in selectors]


def apply_privacy(
    events: list[dict[str, Any]], policy: PrivacyPolicy, state: PrivacyState
) -> list[dict[str, Any]]:
    """The events with the policy enforced, in order; `state` is updated for the next batch.

    Changed events are new dicts; events and nested values that need no change are the
    caller's own objects, which are never modified.
    """
    enforcer = _Enforcer(policy, state)
    kept = (enforcer.enforce(event) for event in events)
    return [event for event in kept if event is not _DROP]


@dataclass(frozen=True, slots=True)
class _Rules:
    """One setting's selectors. A node whose ancestors are unknown (they were recorded in an
    earlier batch) matches a selector with combinators on its rightmost part alone: fail closed."""

    selectors: SelectorList
    subjects: SelectorList

    def matches(self, table: NodeTable, nid: int) -> bool:
        if self.selectors.matches(table, nid):
            return True
        if not self.subjects.matches(table, nid):
            return False
        root_id = table.root_id(nid)
        root = None if root_id is None else table.get(root_id)
        return root is not None and root.placeholder


@lru_cache(maxsize=256)
def _compile(selectors: tuple[str | None, ...]) -> _Rules:
    compiled = SelectorList()
    for text in selectors:
        try:
            compiled += parse_selector_list(text) if isinstance(text, str) else _MATCH_ALL
        except SelectorError:
            compiled += _MATCH_ALL
    return _Rules(compiled, compiled.subjects())


def _rules(value: object) -> _Rules:
    """The policy's selectors compiled; one that is not a string compiles to `*`."""
    if isinstance(value, str):
        value = (value,)
    items = value if isinstance(value, tuple | list) else ()
    return _compile(tuple(item if isinstance(item, str) else None for item in items))


def _input_type(attributes: dict[str, Any]) -> str:
    value = attributes.get("type")
    return value.lower() if isinstance(value, str) else ""


def _is_password(attributes: dict[str, Any]) -> bool:
    return _input_type(attributes) == "password" or "data-rr-is-password" in attributes


def _tree_ids(root: dict[str, Any]) -> Iterator[int]:
    stack = [root]
    while stack:
        node = stack.pop()
        nid = as_node_id(node.get("id"))
        if nid is not None:
            yield nid
        stack.extend(iter_dicts(node.get("childNodes")))


def _map_list(value: object, transform: Callable[[Any], Any]) -> object:
    """`transform` over a list (returning _DROP drops the item); the same list when unchanged."""
    if not isinstance(value, list):
        return value
    return _collect(value, [transform(item) for item in value])


def _collect(original: list[Any], results: list[Any]) -> list[Any]:
    if all(new is old for new, old in zip(results, original, strict=True)):
        return original
    return [item for item in results if item is not _DROP]


def _parents_first(adds: list[Any]) -> list[int]:
    """Indices of `adds`, each after the add of its parent when that is in the same list."""
    parent_index = _parent_indices(adds)
    depth: dict[int, int] = {}
    for start in range(len(adds)):
        path: list[int] = []
        on_path: set[int] = set()  # `in path` would make a long chain of adds quadratic
        current: int | None = start
        while current is not None and current not in depth and current not in on_path:
            path.append(current)
            on_path.add(current)
            current = parent_index[current]
        base = -1 if current is None else depth.get(current, -1)
        for offset, index in enumerate(reversed(path), start=1):
            depth[index] = base + offset
    return sorted(range(len(adds)), key=depth.__getitem__)


def _parent_indices(adds: list[Any]) -> list[int | None]:
    """For each add, the index of the add that creates its parent node, if any."""
    index_by_node: dict[int, int] = {}
    parents: list[int | None] = []
    for index, item in enumerate(adds):
        node = item.get("node") if isinstance(item, dict) else None
        nid = as_node_id(node.get("id")) if isinstance(node, dict) else None
        if nid is not None:
            index_by_node.setdefault(nid, index)
        parents.append(as_node_id(item.get("parentId")) if isinstance(item, dict) else None)
    return [None if parent is None else index_by_node.get(parent) for parent in parents]


class _Enforcer:
    """Applies one policy to the events of one batch, reading and updating `state`."""

    def __init__(self, policy: PrivacyPolicy, state: PrivacyState) -> None:
        self.record_inputs = policy.record_inputs is True
        self.mask = _rules(policy.mask_selectors)
        self.block = _rules(policy.block_selectors)
        self.state = state
        self.table = NodeTable()

    def enforce(self, event: Any) -> Any:
        data = event.get("data") if isinstance(event, dict) else None
        if not isinstance(data, dict):
            return event
        kind = event.get("type")
        if kind == EventType.FullSnapshot:
            return self._full_snapshot(event, data)
        if kind == EventType.IncrementalSnapshot:
            return self._incremental(event, data)
        return event

    # Snapshots and serialized trees

    def _full_snapshot(self, event: dict[str, Any], data: dict[str, Any]) -> Any:
        node = data.get("node")
        if not isinstance(node, dict):
            return event
        self.table.apply_full_snapshot(node)
        self.state.clear()
        new_node = self._tree(node, masked=False)
        return event if new_node is node else {**event, "data": {**data, "node": new_node}}

    def _tree(self, root: dict[str, Any], masked: bool) -> dict[str, Any]:
        """Enforce the policy on a serialized tree whose parent's text is `masked` or not;
        record what each node is in the state. Returns `root` itself when nothing changed."""
        result = dict(root)
        changed = False
        stack = [(result, masked)]
        while stack:
            node, inherited = stack.pop()
            node_changed, children_masked = self._node(node, inherited)
            changed |= node_changed
            if children_masked is None or not isinstance(node.get("childNodes"), list):
                continue
            children = [dict(c) if isinstance(c, dict) else c for c in node["childNodes"]]
            node["childNodes"] = children
            stack.extend((child, children_masked) for child in children if isinstance(child, dict))
        return result if changed else root

    def _node(self, node: dict[str, Any], masked: bool) -> tuple[bool, bool | None]:
        """Enforce the policy on one node (a copy this module owns), in place.

        Returns whether it changed and whether its children's text is masked (None: do not
        walk its children)."""
        nid = as_node_id(node.get("id"))
        kind = node.get("type")
        if kind == NodeType.Element:
            return self._element(node, nid, masked)
        if kind == NodeType.Text:
            return self._text(node, nid, masked), None
        if masked and nid is not None:
            self.state.masked_ids.add(nid)
        return False, masked

    def _text(self, node: dict[str, Any], nid: int | None, masked: bool) -> bool:
        text = node.get("textContent")
        if not masked or not isinstance(text, str) or node.get("isStyle"):
            return False
        if nid is not None:
            self.state.masked_ids.add(nid)
        masked_text = mask_text(text)
        node["textContent"] = masked_text
        return masked_text != text

    def _element(
        self, node: dict[str, Any], nid: int | None, masked: bool
    ) -> tuple[bool, bool | None]:
        tag = node.get("tagName")
        tag = tag.lower() if isinstance(tag, str) else ""
        attributes = node.get("attributes")
        attributes = attributes if isinstance(attributes, dict) else {}
        if nid is not None and self.block.matches(self.table, nid):
            return self._block(node, nid, attributes), None
        masked = self._masks_text_of(nid, tag, masked)
        if nid is not None:
            self._remember_input(nid, tag, attributes)
        new_attributes = self._mask_attributes(tag, attributes)
        if new_attributes is not attributes:
            node["attributes"] = new_attributes
        return new_attributes is not attributes, masked

    def _masks_text_of(self, nid: int | None, tag: str, masked: bool) -> bool:
        if tag in _NON_TEXT_TAGS:
            return False
        masked = (
            masked
            or (tag == "textarea" and not self.record_inputs)
            or (nid is not None and self.mask.matches(self.table, nid))
        )
        if masked and nid is not None:
            self.state.masked_ids.add(nid)
        return masked

    def _block(self, node: dict[str, Any], nid: int, attributes: dict[str, Any]) -> bool:
        self.state.blocked_ids.add(nid)
        self.state.blocked_ids.update(_tree_ids({"childNodes": node.get("childNodes")}))
        kept = {k: attributes[k] for k in _BLOCKED_KEPT_ATTRIBUTES if k in attributes}
        changed = kept != attributes or node.get("childNodes") != []
        node["attributes"], node["childNodes"] = kept, []
        return changed

    def _remember_input(self, nid: int, tag: str, attributes: dict[str, Any]) -> None:
        if tag != "input":
            return
        if _is_password(attributes):
            self.state.password_ids.add(nid)
        if _input_type(attributes) in _TOGGLE_TYPES:
            self.state.toggle_ids.add(nid)

    def _mask_attributes(self, tag: str, attributes: dict[str, Any]) -> dict[str, Any]:
        """The element's attributes with input values masked; the same dict when unchanged."""
        if tag == "option" and "selected" in attributes and not self.record_inputs:
            return {k: v for k, v in attributes.items() if k != "selected"}
        value = attributes.get("value")
        if tag not in _FORM_TAGS or not isinstance(value, str):
            return attributes
        if not self._masks_value_attribute(tag, attributes):
            return attributes
        masked = mask_input_value(value)
        return attributes if masked == value else {**attributes, "value": masked}

    def _masks_value_attribute(self, tag: str, attributes: dict[str, Any]) -> bool:
        if tag == "input" and _is_password(attributes):
            return True
        if self.record_inputs:
            return False
        return tag != "input" or _input_type(attributes) not in _UNMASKED_INPUT_TYPES

    # Incremental snapshots

    def _incremental(self, event: dict[str, Any], data: dict[str, Any]) -> Any:
        source = data.get("source")
        if source == IncrementalSource.Mutation:
            return self._mutation(event, data)
        if isinstance(source, int) and source in _POSITION_SOURCES:
            return self._positions(event, data)
        if self._is_blocked(data.get("id")):
            return _DROP
        if source == IncrementalSource.Input:
            return self._input(event, data)
        return event

    def _is_blocked(self, value: object) -> bool:
        nid = as_node_id(value)
        return nid is not None and nid in self.state.blocked_ids

    def _tag(self, nid: int | None) -> str:
        """The element's tag when this batch knows it, else ""."""
        node = None if nid is None else self.table.get(nid)
        return node.tag_name if node is not None and node.is_element else ""

    def _masks_input(self, nid: int | None) -> bool:
        """Whether a value typed into `nid` is masked (unknown targets are)."""
        if nid is not None and nid in self.state.password_ids:
            return True
        return not self.record_inputs and (nid is None or nid not in self.state.toggle_ids)

    def _masks_value_change(self, nid: int) -> bool:
        """Whether a `value` attribute mutation of `nid` is masked: by the snapshot rule when
        this batch knows the element, as an input value otherwise."""
        node = self.table.get(nid)
        if nid in self.state.password_ids or node is None or not node.tag_name:
            return self._masks_input(nid)
        return node.tag_name in _FORM_TAGS and self._masks_value_attribute(
            node.tag_name, node.attributes
        )

    def _positions(self, event: dict[str, Any], data: dict[str, Any]) -> Any:
        positions = data.get("positions")
        if not isinstance(positions, list) or not self.state.blocked_ids:
            return event
        kept = [p for p in positions if not (isinstance(p, dict) and self._is_blocked(p.get("id")))]
        if len(kept) == len(positions):
            return event
        return {**event, "data": {**data, "positions": kept}} if kept else _DROP

    def _input(self, event: dict[str, Any], data: dict[str, Any]) -> Any:
        text = data.get("text")
        if not isinstance(text, str) or not self._masks_input(as_node_id(data.get("id"))):
            return event
        masked = mask_input_value(text)
        return event if masked == text else {**event, "data": {**data, "text": masked}}

    # Mutations

    def _mutation(self, event: dict[str, Any], data: dict[str, Any]) -> Any:
        removes = _map_list(data.get("removes"), self._remove)
        self._add_placeholders(data.get("adds"))
        self.table.apply_mutation(data)
        adds = self._adds(data.get("adds"))
        # Attributes before texts: a class change can put the changed texts under a mask.
        attributes = _map_list(data.get("attributes"), self._attribute_change)
        texts = _map_list(data.get("texts"), self._text_change)
        results = {"removes": removes, "adds": adds, "texts": texts, "attributes": attributes}
        changed = {key: value for key, value in results.items() if value is not data.get(key)}
        if not changed:
            return event
        new_data = {**data, **changed}
        if all(new_data.get(key) in (None, []) for key in _MUTATION_KEYS):
            return _DROP
        return {**event, "data": new_data}

    def _remove(self, item: Any) -> Any:
        """Called before the table applies the mutation, while the removed subtree is known."""
        nid = as_node_id(item.get("id")) if isinstance(item, dict) else None
        if nid is None:
            return item
        self.state.forget(self.table.subtree(nid) or [nid])
        return _DROP if self._is_blocked(item.get("parentId")) else item

    def _add_placeholders(self, adds: object) -> None:
        """Stand-ins for parents from earlier batches, so the table can hold the new nodes."""
        items = list(iter_dicts(adds))
        nodes = (item.get("node") for item in items)
        added = {as_node_id(node.get("id")) for node in nodes if isinstance(node, dict)}
        for item in items:
            parent = as_node_id(item.get("parentId"))
            if parent is not None and parent not in added and parent not in self.table:
                self.table.add_placeholder(parent)

    def _adds(self, adds: object) -> object:
        if not isinstance(adds, list):
            return adds
        results = list(adds)
        for index in _parents_first(adds):
            results[index] = self._add(adds[index])
        return _collect(adds, results)

    def _add(self, item: Any) -> Any:
        node = item.get("node") if isinstance(item, dict) else None
        if not isinstance(node, dict):
            return item
        parent = as_node_id(item.get("parentId"))
        node_ids = list(_tree_ids(node))
        self.state.forget(node_ids)
        if parent is not None and parent in self.state.blocked_ids:
            self.state.blocked_ids.update(node_ids)
            return _DROP
        masked = parent is not None and parent in self.state.masked_ids
        new_node = self._tree(node, masked)
        return item if new_node is node else {**item, "node": new_node}

    def _text_change(self, item: Any) -> Any:
        nid = as_node_id(item.get("id")) if isinstance(item, dict) else None
        if nid is None:
            return item
        if nid in self.state.blocked_ids:
            return _DROP
        value = item.get("value")
        if nid not in self.state.masked_ids or not isinstance(value, str):
            return item
        masked = mask_text(value)
        return item if masked == value else {**item, "value": masked}

    def _attribute_change(self, item: Any) -> Any:
        nid = as_node_id(item.get("id")) if isinstance(item, dict) else None
        changes = item.get("attributes") if nid is not None else None
        if nid is None or not isinstance(changes, dict):
            return item
        if nid in self.state.blocked_ids:
            return _DROP
        self._remember_input_change(nid, changes)
        self._reclassify(nid)
        value = changes.get("value")
        if not isinstance(value, str) or not self._masks_value_change(nid):
            return item
        masked = mask_input_value(value)
        return item if masked == value else {**item, "attributes": {**changes, "value": masked}}

    def _remember_input_change(self, nid: int, changes: dict[str, Any]) -> None:
        if self._tag(nid) not in ("", "input"):
            return
        if _input_type(changes) == "password" or changes.get("data-rr-is-password") is not None:
            self.state.password_ids.add(nid)
        if "type" in changes:
            if _input_type(changes) in _TOGGLE_TYPES:
                self.state.toggle_ids.add(nid)
            else:
                self.state.toggle_ids.discard(nid)

    def _reclassify(self, nid: int) -> None:
        """An element whose attributes changed may now match a mask or block selector."""
        if self._tag(nid) in ("", *_NON_TEXT_TAGS):
            return
        if self.block.matches(self.table, nid):
            self.state.blocked_ids.update(self.table.subtree(nid))
        elif nid not in self.state.masked_ids and self.mask.matches(self.table, nid):
            self._mark_masked(nid)

    def _mark_masked(self, nid: int) -> None:
        stack = [nid]
        while stack:
            node = self.table.get(stack.pop())
            if node is not None and node.tag_name not in _NON_TEXT_TAGS:
                self.state.masked_ids.add(node.id)
                stack.extend(node.children)
