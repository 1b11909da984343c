"""Derived events as columns: the compact form funnels read. Pure: no I/O.

A block holds the funnel-relevant events (the kinds of `core.funnels.EventType`) of a few
sessions of one site and day as parallel columns: the session (an index into the block's
session table), the time in epoch milliseconds, the kind (an index into `KINDS`), and the
url, path, text and custom-event name (indexes into the block's string table) and the
element (an index into its element table: selector and element path), -1 where the event has
none. The columns travel as one zstd frame of little-endian arrays, so a block of tens of
thousands of events is one small document to read, and a funnel tests each distinct string
or element once, not once per event.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import zstandard

from core.epoch import DAY_MS, epoch_ms, from_epoch_ms
from core.funnels import EventType

# A kind's code is its index here: append only, never reorder (codes are stored).
KINDS: tuple[str, ...] = tuple(EventType)
KIND_CODES = {kind: code for code, kind in enumerate(KINDS)}
STRING_FIELDS = ("url", "path", "text", "name")
NONE = -1

# (column name, dtype) in stored order.
_LAYOUT: tuple[tuple[str, str], ...] = (
    ("session", "<u4"),
    ("ms", "<i8"),
    ("kind", "u1"),
    ("url", "<i4"),
    ("path", "<i4"),
    ("text", "<i4"),
    ("name", "<i4"),
    ("element", "<i4"),
)
_ZSTD_LEVEL = 3

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class BlockSession:
    """A session whose events a block holds: its ids, the version of its rows, and the
    session facts funnels filter and break down by (device type, browser, country)."""

    session_id: str
    visitor_id: str
    version: int
    facts: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Columns:
    """One array per stored column, all of the same length (one entry per event)."""

    session: npt.NDArray[np.uint32]
    ms: IntArray
    kind: npt.NDArray[np.uint8]
    url: npt.NDArray[np.int32]
    path: npt.NDArray[np.int32]
    text: npt.NDArray[np.int32]
    name: npt.NDArray[np.int32]
    element: npt.NDArray[np.int32]

    def __len__(self) -> int:
        return len(self.ms)

    def take(self, rows: npt.NDArray[Any]) -> "Columns":
        """The rows selected by a boolean mask or an index array, in that order."""
        return Columns(**{name: getattr(self, name)[rows] for name, _ in _LAYOUT})

    @classmethod
    def empty(cls) -> "Columns":
        return cls(**{name: np.zeros(0, dtype=dtype) for name, dtype in _LAYOUT})

    @classmethod
    def joined(cls, parts: Sequence["Columns"]) -> "Columns":
        if not parts:
            return cls.empty()
        return cls(
            **{name: np.concatenate([getattr(p, name) for p in parts]) for name, _ in _LAYOUT}
        )


def pack(columns: Columns) -> bytes:
    raw = b"".join(
        getattr(columns, name).astype(dtype, copy=False).tobytes() for name, dtype in _LAYOUT
    )
    return zstandard.ZstdCompressor(level=_ZSTD_LEVEL).compress(raw)


def unpack(blob: bytes, rows: int) -> Columns:
    """The columns `pack` stored for `rows` events; ValueError when the blob does not fit."""
    raw = zstandard.ZstdDecompressor().decompress(blob, max_output_size=rows * 40 + 64)
    arrays: dict[str, Any] = {}
    offset = 0
    for name, dtype in _LAYOUT:
        size = np.dtype(dtype).itemsize * rows
        if offset + size > len(raw):
            raise ValueError("event columns are shorter than their row count")
        arrays[name] = np.frombuffer(raw, dtype=dtype, count=rows, offset=offset)
        offset += size
    if offset != len(raw):
        raise ValueError("event columns are longer than their row count")
    return Columns(**arrays)


@dataclass
class Block:
    """Events of a few sessions of one site and day, as columns plus their tables.

    `keys` (the extractor's event keys, one per row) are kept only while a block is a
    session's own, so the next extraction run can replace the events it derives again.
    """

    sessions: list[BlockSession]
    strings: list[str]
    elements: list[Mapping[str, Any]]
    columns: Columns
    keys: list[str] | None = None


class _Table:
    """Values interned in first-seen order."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.index: dict[Any, int] = {}

    def code(self, value: Any, key: Any = None) -> int:
        key = value if key is None else key
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.values)
            self.values.append(value)
        return found


def _string_code(table: _Table, value: object) -> int:
    return table.code(value) if isinstance(value, str) else NONE


def _element(event: Mapping[str, Any]) -> tuple[dict[str, Any], str] | None:
    selector, path = event.get("selector"), event.get("element_path")
    if not isinstance(selector, str) and not isinstance(path, list):
        return None
    element: dict[str, Any] = {}
    if isinstance(selector, str):
        element["selector"] = selector
    if isinstance(path, list):
        element["element_path"] = path
    return element, repr(element)


def event_key(event: Mapping[str, Any]) -> str:
    """The extractor's key of a derived event (its `_id` for one stored without)."""
    key = event.get("key")
    return key if isinstance(key, str) else str(event.get("_id", ""))


def session_block(session: BlockSession, events: Iterable[Mapping[str, Any]]) -> Block:
    """One session's funnel events as a block: rows in time order, then by event key."""
    kept = [e for e in events if e.get("kind") in KIND_CODES and isinstance(e.get("at"), datetime)]
    kept.sort(key=lambda e: (epoch_ms(e["at"]), event_key(e)))
    strings, elements = _Table(), _Table()
    rows: dict[str, list[int]] = {name: [] for name, _ in _LAYOUT}
    for event in kept:
        rows["session"].append(0)
        rows["ms"].append(epoch_ms(event["at"]))
        rows["kind"].append(KIND_CODES[event["kind"]])
        for name in STRING_FIELDS:
            rows[name].append(_string_code(strings, event.get(name)))
        element = _element(event)
        rows["element"].append(NONE if element is None else elements.code(*element))
    columns = Columns(**{name: np.array(rows[name], dtype=dtype) for name, dtype in _LAYOUT})
    keys = [event_key(e) for e in kept]
    return Block([session], strings.values, elements.values, columns, keys)


def split_by_day(block: Block) -> dict[int, Block]:
    """A one-session block cut into one block per UTC day of its events."""
    days = block.columns.ms - block.columns.ms % DAY_MS
    found: dict[int, Block] = {}
    for day in np.unique(days):
        rows = np.flatnonzero(days == day)
        keys = [block.keys[i] for i in rows] if block.keys is not None else None
        found[int(day)] = Block(
            block.sessions, block.strings, block.elements, block.columns.take(rows), keys
        )
    return found


def merged(blocks: Sequence[Block], keep_keys: bool = False) -> Block:
    """The blocks as one: session, string and element tables joined, rows in block order."""
    sessions: list[BlockSession] = []
    strings, elements = _Table(), _Table()
    parts: list[Columns] = []
    keys: list[str] = []
    for block in blocks:
        columns = block.columns
        string_map = np.array([strings.code(s) for s in block.strings] + [NONE], dtype=np.int32)
        element_map = np.array(
            [elements.code(e, repr(e)) for e in block.elements] + [NONE], dtype=np.int32
        )
        session_map = np.arange(len(sessions), len(sessions) + len(block.sessions), dtype=np.uint32)
        sessions.extend(block.sessions)
        remapped = {
            name: string_map[getattr(columns, name)] for name in STRING_FIELDS
        }  # -1 indexes the trailing NONE
        parts.append(
            Columns(
                session=session_map[columns.session] if len(columns) else columns.session,
                ms=columns.ms,
                kind=columns.kind,
                element=element_map[columns.element],
                **remapped,
            )
        )
        if keep_keys and block.keys is not None:
            keys.extend(block.keys)
    return Block(sessions, strings.values, elements.values, Columns.joined(parts),
                 keys if keep_keys else None)  # fmt: skip


def without_sessions(block: Block, session_ids: set[str]) -> Block:
    """The block minus every row and table entry of the given sessions."""
    gone = np.array([s.session_id in session_ids for s in block.sessions], dtype=bool)
    if not gone.any():
        return block
    rows = ~gone[block.columns.session] if len(block.columns) else np.zeros(0, dtype=bool)
    kept_sessions = [s for s, out in zip(block.sessions, gone, strict=True) if not out]
    renumber = np.cumsum(~gone, dtype=np.int64) - 1
    columns = block.columns.take(rows)
    columns.session = renumber[columns.session].astype(np.uint32)
    keys = [k for k, keep in zip(block.keys, rows, strict=True) if keep] if block.keys else None
    return _compact_tables(Block(kept_sessions, block.strings, block.elements, columns, keys))


def _compact_tables(block: Block) -> Block:
    """The block with strings and elements no row uses left out (erased text must go)."""
    columns = block.columns
    codes = np.concatenate([getattr(columns, name) for name in STRING_FIELDS])
    used_strings = np.unique(codes[codes != NONE])
    used_elements = np.unique(columns.element[columns.element != NONE])
    string_map = np.full(len(block.strings) + 1, NONE, dtype=np.int32)
    string_map[used_strings] = np.arange(len(used_strings), dtype=np.int32)
    element_map = np.full(len(block.elements) + 1, NONE, dtype=np.int32)
    element_map[used_elements] = np.arange(len(used_elements), dtype=np.int32)
    for name in STRING_FIELDS:
        setattr(columns, name, string_map[getattr(columns, name)])
    columns.element = element_map[columns.element]
    return Block(
        block.sessions,
        [block.strings[i] for i in used_strings],
        [block.elements[i] for i in used_elements],
        columns,
        block.keys,
    )


def events_of(block: Block) -> list[dict[str, Any]]:
    """The block's rows as event mappings (kind, at, key, strings, element): what
    `session_block` reads, so a session's block can be rebuilt with new events."""
    columns = block.columns
    found = []
    for row in range(len(columns)):
        event: dict[str, Any] = {
            "kind": KINDS[int(columns.kind[row])],
            "at": from_epoch_ms(int(columns.ms[row])),
        }
        if block.keys is not None:
            event["key"] = block.keys[row]
        for name in STRING_FIELDS:
            code = int(getattr(columns, name)[row])
            if code != NONE:
                event[name] = block.strings[code]
        element = int(columns.element[row])
        if element != NONE:
            event.update(block.elements[element])
        found.append(event)
    return found
