"""A heatmap rollup's counters in a compact binary form, summed with numpy.

A rollup counts grid cells (`cells.c3r4`), elements (`elements.<key>`), scroll steps
(`steps.s5`), and `total` / `views`. Cells are most of them (up to 64 x `MAX_ROWS`), so
they are kept as one dense grid of rows x `GRID_COLUMNS` counts, in the narrowest unsigned
integer type that holds them, and compressed: a day of a busy page is a few kilobytes
whatever its click count, and summing days is an array addition instead of a dictionary
update per cell. Every other counter stays a name with a count (a page has few elements
and 20 steps), as do cell names that are not canonical (none are written; kept so packing
never loses a count).

`pack` is canonical: the same counts give the same bytes however the batches that made
them were ordered. Packed counters start with `MAGIC`; anything else is read as the JSON
map of counter names that rollups held before (`from_json`).
"""

import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import orjson

from core.heatmaps import GRID_COLUMNS, cell_key, parse_cell_key

MAGIC = b"HMC1"
CELL_PREFIX = "cells."
_HEADER = np.dtype("<u4")
_WIDTHS = (np.dtype("<u1"), np.dtype("<u2"), np.dtype("<u4"), np.dtype("<u8"))

Cells = npt.NDArray[np.int64]


def _no_cells() -> Cells:
    return np.zeros((0, GRID_COLUMNS), dtype=np.int64)


@dataclass
class Counts:
    """Counters by family: `cells[row, column]`, and every other counter by name."""

    cells: Cells = field(default_factory=_no_cells)
    named: Counter[str] = field(default_factory=Counter)

    def add(self, other: "Counts") -> None:
        self.add_cells(other.cells)
        self.named.update(other.named)

    def add_cells(self, cells: Cells) -> None:
        rows = cells.shape[0]
        if rows > self.cells.shape[0]:
            grown = np.zeros((rows, GRID_COLUMNS), dtype=np.int64)
            grown[: self.cells.shape[0]] = self.cells
            self.cells = grown
        self.cells[:rows] += cells

    def add_names(self, counters: Mapping[str, int]) -> None:
        """Add counters given by name (`cells.c3r4`, `total`, ...), as batches and legacy
        rollups hold them."""
        cells: list[tuple[int, int, int]] = []
        for name, count in counters.items():
            cell = _cell_of(name)
            if cell is None:
                self.named[name] += count
            else:
                cells.append((cell[1], cell[0], count))
        if cells:
            rows, cols, amounts = np.array(cells, dtype=np.int64).T
            grid = np.zeros((int(rows.max()) + 1, GRID_COLUMNS), dtype=np.int64)
            np.add.at(grid, (rows, cols), amounts)
            self.add_cells(grid)

    def names(self) -> Counter[str]:
        """Every counter by name, as `add_names` takes them."""
        out = Counter(self.named)
        for row, col in zip(*np.nonzero(self.cells), strict=True):
            out[CELL_PREFIX + cell_key(int(col), int(row))] += int(self.cells[row, col])
        return out

    def in_family(self, family: str) -> dict[str, int]:
        """The named counters `<family>.<key>`, by key."""
        prefix = family + "."
        return {k[len(prefix) :]: v for k, v in self.named.items() if k.startswith(prefix)}

    def pack(self) -> bytes:
        used = np.flatnonzero(self.cells.any(axis=1))
        cells = self.cells[: int(used[-1]) + 1 if used.size else 0]
        width = _narrowest(cells)
        header = orjson.dumps(
            {"rows": cells.shape[0], "width": width.str, "named": dict(self.named)},
            option=orjson.OPT_SORT_KEYS,
        )
        body = np.array([len(header)], dtype=_HEADER).tobytes() + header
        return MAGIC + zlib.compress(body + cells.astype(width).tobytes())


def _cell_of(name: str) -> tuple[int, int] | None:
    return parse_cell_key(name[len(CELL_PREFIX) :]) if name.startswith(CELL_PREFIX) else None


def _narrowest(cells: Cells) -> np.dtype[np.integer]:
    if cells.size and int(cells.min()) < 0:
        return np.dtype("<i8")  # never written (counts only grow); kept exact all the same
    top = int(cells.max()) if cells.size else 0
    return next(w for w in _WIDTHS if top <= np.iinfo(w).max)


def unpack(data: bytes) -> Counts:
    """Counters packed by `Counts.pack`, or a legacy JSON map of counter names."""
    if not data.startswith(MAGIC):
        return from_json(data)
    body = zlib.decompress(data[len(MAGIC) :])
    length = int(np.frombuffer(body, dtype=_HEADER, count=1)[0])
    header = orjson.loads(body[_HEADER.itemsize : _HEADER.itemsize + length])
    raw = np.frombuffer(body, dtype=np.dtype(header["width"]), offset=_HEADER.itemsize + length)
    cells = raw.reshape(header["rows"], GRID_COLUMNS).astype(np.int64)
    return Counts(cells, Counter(header["named"]))


def from_json(data: bytes) -> Counts:
    counts = Counts()
    counts.add_names(orjson.loads(data))
    return counts
