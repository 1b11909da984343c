"""A mirror of one page's recorded DOM, rebuilt from rrweb snapshots and mutations.

Ids are rrweb's node ids. Recordings come from browsers we do not control, so the table
accepts anything: malformed nodes, unknown ids and negative ids are skipped, never raised on.
Mutations are applied in the order rrweb's replayer uses (removes, adds, texts, attributes).
Style diffs (an attribute mutation whose `style` value is an object) are not merged: the
table keeps the last full `style` string it saw.
"""

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from core.rrweb.events import NodeType

_TEXT_TYPES = frozenset({NodeType.Text, NodeType.CDATA, NodeType.Comment})
_VISIBLE_TEXT_TYPES = frozenset({NodeType.Text, NodeType.CDATA})
_NON_TEXT_TAGS = frozenset({"script", "style"})
# rrweb's ids are JavaScript numbers counted from 1; anything past the safe integers is not one
# (and ids past 64 bits cannot even be stored in MongoDB).
MAX_NODE_ID = 2**53 - 1


def as_node_id(value: object) -> int | None:
    """`value` when it is a usable node id (an int, not a bool, 0 to MAX_NODE_ID), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_NODE_ID:
        return value
    return None


def iter_dicts(value: object) -> Iterator[dict[str, Any]]:
    """The dict items of `value` when it is a list; nothing otherwise."""
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


@dataclass(slots=True)
class Node:
    """One recorded node. `tag_name` is lower-case for elements and "" for other nodes;
    `placeholder` marks a stand-in for a node recorded in an earlier batch."""

    id: int
    type: int
    tag_name: str = ""
    attributes: dict[str, object] = field(default_factory=dict)
    text: str = ""
    parent: int | None = None
    children: list[int] = field(default_factory=list)
    placeholder: bool = False

    @property
    def is_element(self) -> bool:
        return self.type == NodeType.Element


def _node_from(data: dict[str, Any], nid: int) -> Node | None:
    kind = data.get("type")
    if not isinstance(kind, int) or isinstance(kind, bool):
        return None
    node = Node(nid, kind)
    if kind == NodeType.Element:
        tag, attributes = data.get("tagName"), data.get("attributes")
        node.tag_name = tag.lower() if isinstance(tag, str) else ""
        if isinstance(attributes, dict):
            node.attributes = {k: v for k, v in attributes.items() if isinstance(k, str)}
    elif kind in _TEXT_TYPES:
        text = data.get("textContent")
        node.text = text if isinstance(text, str) else ""
    return node


@dataclass(slots=True)
class _Add:
    order: int
    parent: int
    next: int | None
    node: dict[str, Any]


def _parse_adds(value: object) -> list[_Add]:
    adds = []
    for order, item in enumerate(iter_dicts(value)):
        parent, node = as_node_id(item.get("parentId")), item.get("node")
        if parent is not None and isinstance(node, dict):
            adds.append(_Add(order, parent, as_node_id(item.get("nextId")), node))
    return adds


class NodeTable:
    """The recorded DOM of one page (one rrweb mirror), keyed by node id."""

    __slots__ = ("_nodes",)

    def __init__(self) -> None:
        self._nodes: dict[int, Node] = {}

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node_id: object) -> bool:
        return isinstance(node_id, int) and node_id in self._nodes

    # Building

    def apply_full_snapshot(self, node: object) -> None:
        """Forget everything and mirror the serialized tree `node` (a FullSnapshot's data.node)."""
        self._nodes.clear()
        if isinstance(node, dict):
            self._register_tree(node)

    def apply_mutation(self, data: object) -> None:
        """Apply an IncrementalSnapshot Mutation's `data`, skipping what cannot be applied."""
        if not isinstance(data, dict):
            return
        for item in iter_dicts(data.get("removes")):
            self._remove(item)
        self._apply_adds(_parse_adds(data.get("adds")))
        for item in iter_dicts(data.get("texts")):
            self._set_text(item)
        for item in iter_dicts(data.get("attributes")):
            self._set_attributes(item)

    def add_placeholder(self, node_id: int) -> None:
        """Register a parentless element of unknown tag and attributes for `node_id`.

        For a node that exists in the page but is not in this table (it was recorded in an
        earlier batch), so that mutations adding nodes under it can be applied. A placeholder
        matches the selector `*` and no other test.
        """
        if as_node_id(node_id) is not None and node_id not in self._nodes:
            self._nodes[node_id] = Node(node_id, NodeType.Element, placeholder=True)

    # Lookups

    def get(self, node_id: int) -> Node | None:
        return self._nodes.get(node_id)

    def parent_id(self, node_id: int) -> int | None:
        node = self._nodes.get(node_id)
        return None if node is None else node.parent

    def ancestors(self, node_id: int) -> list[int]:
        """Ids from the parent up to the root, nearest first."""
        result = []
        parent = self.parent_id(node_id)
        while parent is not None:
            result.append(parent)
            parent = self.parent_id(parent)
        return result

    def root_id(self, node_id: int) -> int | None:
        """The top of the node's tree: the document, or a placeholder; None for unknown ids."""
        if node_id not in self._nodes:
            return None
        while (parent := self.parent_id(node_id)) is not None:
            node_id = parent
        return node_id

    def children(self, node_id: int) -> tuple[int, ...]:
        node = self._nodes.get(node_id)
        return () if node is None else tuple(node.children)

    def subtree(self, node_id: int) -> list[int]:
        """`node_id` and all its descendants, in document order; [] for an unknown id."""
        if node_id not in self._nodes:
            return []
        result, stack = [], [node_id]
        while stack:
            current = stack.pop()
            result.append(current)
            stack.extend(reversed(self._nodes[current].children))
        return result

    def text_content(self, node_id: int) -> str:
        """The text of the node and its descendants, whitespace collapsed and trimmed.

        Text inside <script> and <style> is left out: it is not what a visitor reads.
        """
        parts, stack = [], [node_id]
        while stack:
            node = self._nodes.get(stack.pop())
            if node is None or node.tag_name in _NON_TEXT_TAGS:
                continue
            if node.type in _VISIBLE_TEXT_TYPES:
                parts.append(node.text)
            stack.extend(reversed(node.children))
        return " ".join("".join(parts).split())

    # Internals

    def _lookup(self, value: object) -> Node | None:
        nid = as_node_id(value)
        return None if nid is None else self._nodes.get(nid)

    def _register_tree(self, root: dict[str, Any]) -> list[int]:
        """Add `root` (without a parent) and its descendants; return the ids added, root first.

        A node without a usable id or type, or whose id is already taken, is skipped with
        its subtree.
        """
        added: list[int] = []
        stack: list[tuple[dict[str, Any], int | None]] = [(root, None)]
        while stack:
            data, parent = stack.pop()
            nid = as_node_id(data.get("id"))
            node = None if nid is None or nid in self._nodes else _node_from(data, nid)
            if node is None:
                if parent is None:
                    return []
                continue
            self._nodes[node.id] = node
            added.append(node.id)
            if parent is not None:
                node.parent = parent
                self._nodes[parent].children.append(node.id)
            children = list(iter_dicts(data.get("childNodes")))
            stack.extend((child, node.id) for child in reversed(children))
        return added

    def _remove(self, item: dict[str, Any]) -> None:
        node = self._lookup(item.get("id"))
        if node is not None:
            self._drop(node)

    def _drop(self, node: Node) -> None:
        parent = self._nodes.get(node.parent) if node.parent is not None else None
        if parent is not None:
            parent.children.remove(node.id)
        for nid in self.subtree(node.id):
            del self._nodes[nid]

    def _apply_adds(self, adds: list[_Add]) -> None:
        """Insert adds whose parent and next sibling are known, retrying the others as the
        nodes they wait for arrive (rrweb emits adds in no guaranteed order)."""
        waiting: dict[int, list[_Add]] = {}
        queue = deque(adds)
        while queue:
            add = queue.popleft()
            missing = self._missing_dependency(add)
            if missing is not None:
                waiting.setdefault(missing, []).append(add)
                continue
            for nid in self._insert(add):
                queue.extend(waiting.pop(nid, ()))
        leftovers = sorted((add for group in waiting.values() for add in group), key=_add_order)
        for add in leftovers:
            if add.parent in self._nodes:
                self._insert(add)

    def _missing_dependency(self, add: _Add) -> int | None:
        if add.parent not in self._nodes:
            return add.parent
        if add.next is not None and add.next not in self._nodes:
            return add.next
        return None

    def _insert(self, add: _Add) -> list[int]:
        """Insert one added subtree before its next sibling (appended when that is not a child
        of the parent). An add for a known id replaces that node and its subtree, as the
        replayer rebuilds it."""
        existing = self._lookup(add.node.get("id"))
        if existing is not None:
            self._drop(existing)
        parent = self._nodes.get(add.parent)
        added = self._register_tree(add.node) if parent is not None else []
        if parent is None or not added:
            return []
        self._nodes[added[0]].parent = parent.id
        siblings = parent.children
        position = siblings.index(add.next) if add.next in siblings else len(siblings)
        siblings.insert(position, added[0])
        return added

    def _set_text(self, item: dict[str, Any]) -> None:
        node, value = self._lookup(item.get("id")), item.get("value")
        if node is None or node.type not in _TEXT_TYPES:
            return
        if value is None or isinstance(value, str):
            node.text = value or ""

    def _set_attributes(self, item: dict[str, Any]) -> None:
        node, changes = self._lookup(item.get("id")), item.get("attributes")
        if node is None or not node.is_element or not isinstance(changes, dict):
            return
        for name, value in changes.items():
            if not isinstance(name, str):
                continue
            if value is None:
                node.attributes.pop(name, None)
            elif isinstance(value, str):
                node.attributes[name] = value


def _add_order(add: _Add) -> int:
    return add.order
