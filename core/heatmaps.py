"""Heatmap arithmetic shared by the rollup worker and the readers: page keys, viewport-width
bands, the click grid, scroll steps, reach and top elements, and field-name encoding.

A heatmap is kept as counters per site, page key (`normalize_page`), device type and width
band (`width_bucket`), so reading one costs the number of cells, never the number of events.

The grid. A click at page coordinates (x, y) on a viewport `w` CSS px wide falls in

* column `floor(x / w * GRID_COLUMNS)`: columns divide the *event's* viewport width, so a
  page laid out for 1300 px and the same page at 1500 px line up (fluid and centred layouts
  keep their elements at the same fraction of the width), and every click inside the viewport
  lands in one of the 64 columns whatever the width;
* row `floor(y / cell_px)`, where `cell_px = reference width of the band / GRID_COLUMNS` is
  fixed for the whole band (`band_cell_px`). Rows are absolute CSS pixels because vertical
  positions depend little on the width inside a band (the same breakpoints apply), whereas
  scaling y by each viewport's own width would put an element at y = 3000 px up to 25 % apart
  between the narrowest and the widest viewport of the 1280 band (60 % in the 480 band). The
  reference width is the band's lower bound, so cells are square on the narrowest viewport
  of a band and wider than tall on wider ones; the first band's lower bound is 0, so it uses
  `MIN_REFERENCE_WIDTH` (320 px, the narrowest phone in common use).

Rows stop at `MAX_ROWS`, i.e. `MAX_ROWS * cell_px` CSS px down the page (20,480 px on phones,
30,720 px in the 480 band, 81,920 px in the 1280 band): clicks below are not counted rather
than piled up in the last row. Move heatmaps use the same grid (`move_cell`).
"""

import math
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urlsplit

import numpy as np
import numpy.typing as npt

from core.elements import ElementSelector, event_of_key

MAX_PAGE_KEY = 2048

WIDTH_BUCKETS: tuple[int, ...] = (0, 480, 768, 1024, 1280, 1600, 1920)
MIN_REFERENCE_WIDTH = 320

GRID_COLUMNS = 64
MAX_ROWS = 4096

SCROLL_STEPS = 20

DEVICE_TYPES: tuple[str, ...] = ("desktop", "mobile", "tablet", "bot", "unknown")

# --- page keys ------------------------------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443}
_WEB_SCHEMES = frozenset({"", "http", "https"})
# "example.com/pricing", "localhost:8080", "[::1]:3000/x": a host (and port) without a scheme.
_SCHEMELESS = re.compile(
    r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s/?#@\[\]:\\%]+)(?P<port>:\d{1,5})?(?=[/?#]|$)"
)
_HOST_NAME = re.compile(r"^[^\s/?#@\[\]:\\%]+$")
_HOST_IPV6 = re.compile(r"^[0-9a-f:.]+$")


def normalize_page(url: str, keep_params: Sequence[str] = ()) -> str:
    """The page key of `url`: lower-cased host (with a non-default port) and path, without the
    scheme, credentials, fragment, trailing slash (except the root "/"), or query string
    except for the parameters in `keep_params` (sorted, values kept). A bare path such as
    "/pricing" stays a bare path. Input that is not a web URL comes back trimmed and cut to
    `MAX_PAGE_KEY` characters. A key normalizes to itself (given the same `keep_params`)."""
    text = url.strip()
    try:
        parts = _split(text)
        key = None if parts is None else _page_key(parts, keep_params)
    except ValueError:
        key = None
    return (text if key is None else key)[:MAX_PAGE_KEY]


def _split(text: str) -> SplitResult | None:
    if text.startswith("/") and not text.startswith("//"):
        return urlsplit(text)
    match = _SCHEMELESS.match(text)
    if match and _looks_like_host(match["host"], match["port"]):
        return urlsplit("//" + text)
    parts = urlsplit(text)
    return parts if parts.scheme in _WEB_SCHEMES and parts.netloc else None


def _looks_like_host(host: str, port: str | None) -> bool:
    return bool(port) or "." in host or host.startswith("[") or host.lower() == "localhost"


def _page_key(parts: SplitResult, keep_params: Sequence[str]) -> str | None:
    host = _host(parts) if parts.netloc else ""
    if host is None:
        return None
    path = parts.path if parts.path.startswith("/") else "/" + parts.path
    path = path.rstrip("/") or "/"
    return host + path + _kept_query(parts.query, keep_params)


def _host(parts: SplitResult) -> str | None:
    name = (parts.hostname or "").rstrip(".")
    if ":" in name:
        if not _HOST_IPV6.match(name):
            return None
        name = f"[{name}]"
    elif not _HOST_NAME.match(name):
        return None
    port = parts.port  # raises ValueError when out of range
    if port is None or _DEFAULT_PORTS.get(parts.scheme) == port:
        return name
    return f"{name}:{port}"


def _kept_query(query: str, keep_params: Sequence[str]) -> str:
    if not query or not keep_params:
        return ""
    wanted = set(keep_params)
    pairs = sorted(
        (name, value) for name, value in parse_qsl(query, keep_blank_values=True) if name in wanted
    )
    return "?" + urlencode(pairs, quote_via=quote) if pairs else ""


# --- width bands and the grid ---------------------------------------------------------------


def width_bucket(width: int | None) -> int:
    """The lower bound of the band of `WIDTH_BUCKETS` that `width` (CSS px) falls in; 0 for
    None and for nonsense (negative) widths."""
    if width is None or width < 0:
        return WIDTH_BUCKETS[0]
    return WIDTH_BUCKETS[bisect_right(WIDTH_BUCKETS, width) - 1]


def band_cell_px(band: int) -> float:
    """The height (CSS px) of one grid row in the width band starting at `band`."""
    return max(band, MIN_REFERENCE_WIDTH) / GRID_COLUMNS


def click_cell(x: float, y: float, viewport_width: int) -> tuple[int, int] | None:
    """The (column, row) of a click at page coordinates (x, y) on a viewport `viewport_width`
    CSS px wide; None for coordinates outside the page (negative, right of the viewport,
    `MAX_ROWS` rows or more down) and for values that are not finite numbers."""
    px, py, width = _finite(x), _finite(y), _finite(viewport_width)
    if px is None or py is None or width is None or width < 1:
        return None
    if px < 0 or py < 0 or px > width:
        return None
    row = math.floor(py / band_cell_px(width_bucket(int(width))))
    if row >= MAX_ROWS:
        return None
    return min(GRID_COLUMNS - 1, math.floor(px * GRID_COLUMNS / width)), row


move_cell = click_cell


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def cell_key(col: int, row: int) -> str:
    """The rollup field name of a cell, e.g. "c12r340"."""
    if not (0 <= col < GRID_COLUMNS and 0 <= row < MAX_ROWS):
        raise ValueError(f"cell ({col}, {row}) is outside the grid")
    return f"c{col}r{row}"


_CELL_KEY = re.compile(r"^c(0|[1-9][0-9]{0,3})r(0|[1-9][0-9]{0,4})$")


def parse_cell_key(key: str) -> tuple[int, int] | None:
    """The (column, row) of a key written by `cell_key`; None for anything else."""
    match = _CELL_KEY.match(key)
    if match is None:
        return None
    col, row = int(match[1]), int(match[2])
    return (col, row) if col < GRID_COLUMNS and row < MAX_ROWS else None


# --- reading grids --------------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """A click or move heatmap as read from the rollup: `counts` by (column, row); `rows` is
    how many rows the heatmap spans; `cell_px` the CSS-pixel height of a row."""

    columns: int
    rows: int
    cell_px: float
    counts: dict[tuple[int, int], int] = field(default_factory=dict, hash=False)

    @property
    def total(self) -> int:
        return sum(count for count in self.counts.values() if count > 0)

    @property
    def max_count(self) -> int:
        return max((count for count in self.counts.values() if count > 0), default=0)

    def packed(self) -> list[int]:
        """[col, row, count, col, row, count, ...] for the cells with a count, by row then
        column: what the API returns instead of one object per cell."""
        flat: list[int] = []
        for (col, row), count in sorted(self.counts.items(), key=_row_major):
            if count > 0:
                flat.extend((col, row, count))
        return flat

    def merge(self, other: "Grid") -> "Grid":
        """The sum of two grids of the same band (e.g. two device types or date ranges)."""
        if self.columns != other.columns or not math.isclose(self.cell_px, other.cell_px):
            raise ValueError("only grids of the same width band can be merged")
        counts = dict(self.counts)
        for cell, count in other.counts.items():
            counts[cell] = counts.get(cell, 0) + count
        return Grid(self.columns, max(self.rows, other.rows), self.cell_px, counts)


def _row_major(item: tuple[tuple[int, int], int]) -> tuple[int, int]:
    (col, row), _ = item
    return row, col


def grid_from_cells(cells: Mapping[str, int], band: int) -> Grid:
    """A `Grid` from a rollup's cell counters (keys from `cell_key`) in the width band starting
    at `band`; unknown keys and counts below 1 are skipped."""
    counts: dict[tuple[int, int], int] = {}
    for key, count in cells.items():
        cell = parse_cell_key(key)
        if cell is not None and count > 0:
            counts[cell] = counts.get(cell, 0) + count
    rows = max((row for _, row in counts), default=-1) + 1
    return Grid(GRID_COLUMNS, rows, band_cell_px(band), counts)


def grid_from_array(cells: "npt.NDArray[np.int64]", band: int) -> Grid:
    """A `Grid` from counts as an array `cells[row, column]` (`core.heatmap_counts`) in the
    width band starting at `band`; counts below 1 are skipped, as by `grid_from_cells`."""
    rows, cols = np.nonzero(cells > 0)
    counts = dict(zip(zip(cols.tolist(), rows.tolist(), strict=True),
                      cells[rows, cols].tolist(), strict=True))  # fmt: skip
    return Grid(GRID_COLUMNS, int(rows.max()) + 1 if rows.size else 0, band_cell_px(band), counts)


# --- scroll depth ---------------------------------------------------------------------------


def scroll_bucket(
    depth_share: float | None, depth_px: int | None, page_height: int | None
) -> int | None:
    """The step (0..SCROLL_STEPS-1, 5 % each) of the deepest point a page view reached: from
    `depth_share` when known, else from `depth_px / page_height`; shares above 1 count as 1.
    None when neither is known (or they are not finite, non-negative numbers)."""
    share = _share(depth_share)
    if share is None:
        px, height = _finite(depth_px), _finite(page_height)
        if px is None or height is None or px < 0 or height <= 0:
            return None
        share = px / height
    # The epsilon keeps 0.15 * 20 = 2.9999999999999996 in step 3.
    return min(SCROLL_STEPS - 1, math.floor(min(share, 1.0) * SCROLL_STEPS + 1e-9))


def _share(value: float | None) -> float | None:
    share = _finite(value)
    return share if share is not None and share >= 0 else None


def scroll_reach(step_counts: Mapping[int, int]) -> list[float]:
    """For each step 0..SCROLL_STEPS-1, the share (0..1) of page views whose deepest point was
    at that step or deeper, given how many page views had their deepest point at each step.
    Step 0 is 1.0 whenever there are views; all zeros when there are none."""
    per_step = [0] * SCROLL_STEPS
    for step, count in step_counts.items():
        if 0 <= step < SCROLL_STEPS and count > 0:
            per_step[step] += count
    total = sum(per_step)
    if total == 0:
        return [0.0] * SCROLL_STEPS
    reach: list[float] = []
    remaining = total
    for count in per_step:
        reach.append(remaining / total)
        remaining -= count
    return reach


# --- top elements ---------------------------------------------------------------------------


def top_elements(
    counts: Mapping[str, int], limit: int = 20, wanted: ElementSelector | None = None
) -> list[tuple[str, int, float]]:
    """The `limit` most clicked selectors as (selector, clicks, share of all clicks 0..1), by
    clicks then selector, from counters named by `core.elements.element_key`; with `wanted`,
    only the elements it matches (shares stay shares of all clicks)."""
    total = sum(count for count in counts.values() if count > 0)
    by_selector: Counter[str] = Counter()
    for key, count in counts.items():
        if count > 0:
            event = event_of_key(key)
            if wanted is None or wanted.matches(event):
                by_selector[event["selector"]] += count
    ranked = sorted(by_selector.items(), key=lambda item: (-item[1], item[0]))
    return [(selector, count, count / total) for selector, count in ranked[: max(limit, 0)]]


# --- field names ----------------------------------------------------------------------------

# "%" escapes itself, ".", "$" and NUL (which MongoDB and FerretDB refuse in field names) as
# %XX, and lone surrogates (which UTF-8, hence BSON, cannot carry) as %uXXXX. The empty
# string, which cannot be a path component, is written "%" alone.
_ESCAPES = str.maketrans({"%": "%25", ".": "%2E", "$": "%24", "\0": "%00"})
_UNESCAPES = {"25": "%", "2E": ".", "24": "$", "00": "\0"}
_ESCAPE = re.compile(r"%(u[0-9A-F]{4}|[0-9A-F]{2})?")
_SURROGATE = re.compile("[\ud800-\udfff]")
_EMPTY = "%"


def field_safe(text: str) -> str:
    """`text` as a MongoDB field name: no ".", no leading "$", no NUL, never empty, valid
    UTF-8; `field_unsafe` gives `text` back. Readable: "a.b" becomes "a%2Eb"."""
    if not text:
        return _EMPTY
    escaped = text.translate(_ESCAPES)
    return _SURROGATE.sub(lambda match: f"%u{ord(match[0]):04X}", escaped)


def field_unsafe(name: str) -> str:
    """The text `field_safe` encoded as `name`; ValueError for names it cannot have written."""
    if name == _EMPTY:
        return ""
    return _ESCAPE.sub(_unescape, name)


def _unescape(match: re.Match[str]) -> str:
    code = match[1]
    if code is None:
        raise ValueError("not a field name written by field_safe")
    if code.startswith("u"):
        value = int(code[1:], 16)
        if not 0xD800 <= value <= 0xDFFF:
            raise ValueError("not a field name written by field_safe")
        return chr(value)
    if code not in _UNESCAPES:
        raise ValueError("not a field name written by field_safe")
    return _UNESCAPES[code]
