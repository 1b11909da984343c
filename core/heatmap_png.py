"""A heatmap `Grid` drawn as a transparent PNG overlay for a page screenshot or live page.

Each cell's count, relative to the grid's largest, becomes a blurred blob coloured blue,
green, yellow then red, more opaque the hotter; cells without clicks stay fully transparent.
Colours are normalised on counts: the centre of a cell with no clicked neighbours gets its
count over the largest count, wherever it lies (blobs that touch add up). Columns span the
image width (they are fractions of the viewport width) and rows are `grid.cell_px` CSS px
tall, as in `core.heatmaps`; by default the image runs `PAD_ROWS` rows past the last one so
that row's blobs are whole.

Memory is bounded by the output size, which is capped: at most `MAX_WIDTH_PX` wide,
`MAX_HEIGHT_PX` tall and about `MAX_PIXELS` in all. A larger request is scaled down uniformly (same
aspect ratio), so stretching the PNG to the asked `width_px` x `height_px` always lines it up.
The blur runs on an 8-bit work image of about `_WORK_PX_PER_CELL` pixels per cell (never more
pixels than the output), which is then enlarged; the peak is about 5 bytes per output pixel
(the 8-bit intensity plus the RGBA result): some 40 MB at the cap. The same grid and size
always give the same bytes.
"""

import functools
import io
import math
from dataclasses import dataclass
from itertools import pairwise

from PIL import Image, ImageFilter

from core.heatmaps import Grid

MAX_WIDTH_PX = 3840
MAX_HEIGHT_PX = 16_000
MAX_PIXELS = 8_000_000

_WORK_PX_PER_CELL = 8
# The blur's standard deviation, in cells: wide enough for round blobs that merge with their
# neighbours, narrow enough that an isolated cell keeps about a third of its peak in 8 bits.
_BLUR_CELLS = 0.6
# Blank margin (in standard deviations of the blur) around the blurred image: what a blob
# needs to fade out completely in 8 bits (255 * exp(-x**2 / 2) < 0.5 from x = 3.53).
_MARGIN_SIGMAS = 4
# Rows added below the grid's last row when the caller gives no height, so the blob of a
# click on the last row is drawn whole: 3 rows hold a blob's 3.53 standard deviations.
PAD_ROWS = 3
# Opacity of the hottest point (0..255) and how fast opacity grows with intensity.
_MAX_ALPHA = 217
_ALPHA_GAMMA = 0.7
_COLOUR_STOPS: tuple[tuple[float, tuple[int, int, int]], ...] = (
    (0.0, (0, 0, 255)),
    (1 / 3, (0, 255, 0)),
    (2 / 3, (255, 255, 0)),
    (1.0, (255, 0, 0)),
)


@dataclass(frozen=True)
class _Layout:
    """The output size in pixels and one cell's size in output pixels."""

    width: int
    height: int
    col_px: float
    row_px: float


def render_heatmap(grid: Grid, *, width_px: int, height_px: int | None = None) -> bytes:
    """`grid` as an RGBA PNG `width_px` CSS px wide and `height_px` tall (by default
    `default_height`: the rows the grid spans and `PAD_ROWS` more), scaled down to fit the caps."""
    layout = _layout(grid, width_px, height_px)
    intensity = _intensity(grid, layout)
    return _encode(_colourize(intensity))


def _layout(grid: Grid, width_px: int, height_px: int | None) -> _Layout:
    if width_px < 1 or (height_px is not None and height_px < 1):
        raise ValueError("the heatmap image needs a positive width and height")
    if grid.columns < 1 or not grid.cell_px > 0:
        raise ValueError("the grid needs columns and a positive cell size")
    height = height_px if height_px is not None else default_height(grid)
    scale = min(
        1.0,
        MAX_WIDTH_PX / width_px,
        MAX_HEIGHT_PX / height,
        math.sqrt(MAX_PIXELS / (width_px * height)),
    )
    out_width = min(MAX_WIDTH_PX, _at_least_one(width_px * scale))
    out_height = min(MAX_HEIGHT_PX, _at_least_one(height * scale))
    return _Layout(
        out_width, out_height, out_width / grid.columns, grid.cell_px * out_height / height
    )


def default_height(grid: Grid) -> int:
    """The image height when none is asked: the grid's rows plus `PAD_ROWS`, so the last
    row's blobs are whole (the top rows line up with the page's top, so nothing is added
    above); 1 px for a grid without rows."""
    if grid.rows < 1:
        return 1
    return math.ceil((grid.rows + PAD_ROWS) * grid.cell_px)


def _intensity(grid: Grid, layout: _Layout) -> Image.Image:
    """An 8-bit image of the output size: 0 where nothing was clicked; at the centre of a cell
    with no clicked neighbours, 255 times its count over the grid's largest count."""
    size = (layout.width, layout.height)
    visible_rows = min(grid.rows, math.ceil(layout.height / layout.row_px))
    cells = _cell_image(grid, visible_rows)
    if cells is None:
        return Image.new("L", size, 0)
    shrink = max(1.0, min(layout.col_px, layout.row_px) / _WORK_PX_PER_CELL)
    # Whole work pixels per cell, so that every cell's blob has the same shape and peak.
    cell = (_at_least_one(layout.col_px / shrink), _at_least_one(layout.row_px / shrink))
    blocks = cells.resize(
        (grid.columns * cell[0], visible_rows * cell[1]), Image.Resampling.NEAREST
    )
    work_height = _at_least_one(layout.height / layout.row_px * cell[1])
    blurred = _blurred(blocks, (blocks.width, work_height), _blur_px(cell))
    gain = _lone_cell_peak(cell)
    stretched = blurred.point([min(255, round(value * 255 / gain)) for value in range(256)])
    if stretched.size == size:
        return stretched
    return stretched.resize(size, Image.Resampling.BICUBIC)


def _blur_px(cell: tuple[int, int]) -> float:
    return _BLUR_CELLS * math.sqrt(cell[0] * cell[1])


def _blurred(blocks: Image.Image, size: tuple[int, int], blur_px: float) -> Image.Image:
    """`blocks` pasted at the top-left of a blank `size` image, blurred. The blur runs with a
    blank margin all round: at a bare edge, Pillow repeats the edge pixels outward, which
    would make a blob on the edge hotter than the same count inside."""
    margin = math.ceil(_MARGIN_SIGMAS * blur_px)
    canvas = Image.new("L", (size[0] + 2 * margin, size[1] + 2 * margin), 0)
    canvas.paste(blocks, (margin, margin))
    blurred = canvas.filter(ImageFilter.GaussianBlur(blur_px))
    return blurred.crop((margin, margin, margin + size[0], margin + size[1]))


@functools.cache
def _lone_cell_peak(cell: tuple[int, int]) -> int:
    """The blurred peak of one cell at 255 with blank surroundings: what the largest count
    becomes, so dividing by it puts colours on counts, not on where the blobs happen to sum."""
    blur_px = _blur_px(cell)
    margin = math.ceil(_MARGIN_SIGMAS * blur_px)
    canvas = Image.new("L", (cell[0] + 2 * margin, cell[1] + 2 * margin), 0)
    canvas.paste(255, (margin, margin, margin + cell[0], margin + cell[1]))
    peak = canvas.filter(ImageFilter.GaussianBlur(blur_px)).getextrema()[1]
    return max(1, int(peak)) if isinstance(peak, int | float) else 255


def _cell_image(grid: Grid, rows: int) -> Image.Image | None:
    """One pixel per cell, its count scaled so the grid's largest count is 255; None when no
    cell in the first `rows` rows has a count."""
    top = grid.max_count
    if top == 0 or rows < 1:
        return None
    pixels = bytearray(grid.columns * rows)
    for (col, row), count in grid.counts.items():
        if count > 0 and 0 <= col < grid.columns and 0 <= row < rows:
            pixels[row * grid.columns + col] = max(1, round(255 * count / top))
    if not any(pixels):
        return None
    return Image.frombytes("L", (grid.columns, rows), bytes(pixels))


def _at_least_one(pixels: float) -> int:
    return max(1, round(pixels))


def _colourize(intensity: Image.Image) -> Image.Image:
    """The intensity image through the colour map: an RGBA image, transparent where 0."""
    intensity.putpalette(_PALETTE, rawmode="RGBA")
    return intensity.convert("RGBA")


def _palette_entry(level: int) -> tuple[int, int, int, int]:
    if level == 0:
        return 0, 0, 0, 0
    share = level / 255
    alpha = round(_MAX_ALPHA * share**_ALPHA_GAMMA)
    for (start, low), (end, high) in pairwise(_COLOUR_STOPS):
        if share <= end:
            mix = (share - start) / (end - start)
            red, green, blue = (round(a + (b - a) * mix) for a, b in zip(low, high, strict=True))
            return red, green, blue, alpha
    return (*_COLOUR_STOPS[-1][1], alpha)


_PALETTE = bytes(channel for level in range(256) for channel in _palette_entry(level))


def _encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()
