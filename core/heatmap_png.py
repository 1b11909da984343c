"""A heatmap `Grid` drawn as a transparent PNG overlay for a page screenshot or live page.

Each cell's count, relative to the grid's largest, becomes a blurred blob coloured blue,
green, yellow then red, more opaque the hotter; cells without clicks stay fully transparent.
Columns span the image width (they are fractions of the viewport width) and rows are
`grid.cell_px` CSS px tall, as in `core.heatmaps`.

Memory is bounded by the output size, which is capped: at most `MAX_WIDTH_PX` wide,
`MAX_HEIGHT_PX` tall and about `MAX_PIXELS` in all. A larger request is scaled down uniformly (same
aspect ratio), so stretching the PNG to the asked `width_px` x `height_px` always lines it up.
The blur runs on an 8-bit work image of about `_WORK_PX_PER_CELL` pixels per cell (never more
pixels than the output), which is then enlarged; the peak is about 5 bytes per output pixel
(the 8-bit intensity plus the RGBA result): some 40 MB at the cap. The same grid and size
always give the same bytes.
"""

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
    """`grid` as an RGBA PNG `width_px` CSS px wide and `height_px` tall (by default the rows
    the grid spans, `grid.rows * grid.cell_px`), scaled down to fit the caps."""
    layout = _layout(grid, width_px, height_px)
    intensity = _intensity(grid, layout)
    return _encode(_colourize(intensity))


def _layout(grid: Grid, width_px: int, height_px: int | None) -> _Layout:
    if width_px < 1 or (height_px is not None and height_px < 1):
        raise ValueError("the heatmap image needs a positive width and height")
    if grid.columns < 1 or not grid.cell_px > 0:
        raise ValueError("the grid needs columns and a positive cell size")
    height = height_px if height_px is not None else max(1, math.ceil(grid.rows * grid.cell_px))
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


def _intensity(grid: Grid, layout: _Layout) -> Image.Image:
    """An 8-bit image of the output size: 0 where nothing was clicked, 255 at the hottest."""
    size = (layout.width, layout.height)
    visible_rows = min(grid.rows, math.ceil(layout.height / layout.row_px))
    cells = _cell_image(grid, visible_rows)
    if cells is None:
        return Image.new("L", size, 0)
    shrink = max(1.0, min(layout.col_px, layout.row_px) / _WORK_PX_PER_CELL)
    col_px, row_px = layout.col_px / shrink, layout.row_px / shrink
    work = Image.new(
        "L", (_at_least_one(layout.width / shrink), _at_least_one(layout.height / shrink))
    )
    work.paste(
        cells.resize(
            (_at_least_one(grid.columns * col_px), _at_least_one(visible_rows * row_px)),
            Image.Resampling.NEAREST,
        )
    )
    blurred = work.filter(ImageFilter.GaussianBlur(_BLUR_CELLS * math.sqrt(col_px * row_px)))
    peak = blurred.getextrema()[1]
    if not isinstance(peak, int | float) or peak <= 0:
        return Image.new("L", size, 0)
    stretched = blurred.point([min(255, round(value * 255 / peak)) for value in range(256)])
    if stretched.size == size:
        return stretched
    return stretched.resize(size, Image.Resampling.BICUBIC)


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
