import io

import pytest
from PIL import Image

from core.heatmap_png import (
    MAX_HEIGHT_PX,
    MAX_PIXELS,
    MAX_WIDTH_PX,
    PAD_ROWS,
    default_height,
    render_heatmap,
)
from core.heatmaps import GRID_COLUMNS, Grid

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode(data: bytes) -> Image.Image:
    assert data.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG"
    assert image.mode == "RGBA"
    return image


def alpha_of(image: Image.Image) -> list[list[int]]:
    width, height = image.size
    alpha = image.getchannel("A").tobytes()
    return [list(alpha[row * width : (row + 1) * width]) for row in range(height)]


@pytest.fixture
def hot_grid() -> Grid:
    """1280-px band (20 px cells), 50 rows: one hot cell, a warm pair, a cold cell."""
    counts = {(10, 5): 40, (40, 30): 8, (41, 30): 6, (60, 45): 1}
    return Grid(GRID_COLUMNS, 50, 20.0, counts)


def test_valid_png_of_the_grid_size(hot_grid: Grid) -> None:
    image = decode(render_heatmap(hot_grid, width_px=1280))
    assert image.size == (1280, (50 + PAD_ROWS) * 20)


def test_asked_size(hot_grid: Grid) -> None:
    assert decode(render_heatmap(hot_grid, width_px=800, height_px=600)).size == (800, 600)


def test_transparent_where_nothing_was_clicked(hot_grid: Grid) -> None:
    alpha = alpha_of(decode(render_heatmap(hot_grid, width_px=1280)))
    assert alpha[0][0] == 0  # top-left corner, far from every click
    assert alpha[999][0] == 0
    assert all(value == 0 for value in alpha[500][:600])  # row 25: no clicks nearby
    assert all(value == 0 for row in alpha[300:500] for value in row)
    assert alpha[5 * 20 + 10][10 * 20 + 10] > 0


def test_hottest_pixel_lies_in_the_hot_cell(hot_grid: Grid) -> None:
    image = decode(render_heatmap(hot_grid, width_px=1280))
    alpha = alpha_of(image)
    top = max(max(row) for row in alpha)
    hottest = [(x, y) for y, row in enumerate(alpha) for x, value in enumerate(row) if value == top]
    assert hottest
    for x, y in hottest:
        assert 10 * 20 <= x < 11 * 20
        assert 5 * 20 <= y < 6 * 20
    # Red-ish at the hottest point, where the colour map ends.
    red, green, blue, _ = image.getpixel(hottest[0])  # type: ignore[misc]
    assert red > 200
    assert blue < 50
    assert green < 100


def test_cooler_cells_are_less_opaque(hot_grid: Grid) -> None:
    alpha = alpha_of(decode(render_heatmap(hot_grid, width_px=1280)))
    hot = alpha[5 * 20 + 10][10 * 20 + 10]
    warm = max(alpha[30 * 20 + 10][40 * 20 : 42 * 20])
    cold = alpha[45 * 20 + 10][60 * 20 + 10]
    assert hot > warm > cold > 0


def test_empty_grid_is_fully_transparent() -> None:
    image = decode(render_heatmap(Grid(GRID_COLUMNS, 10, 20.0, {}), width_px=640))
    assert image.size == (640, (10 + PAD_ROWS) * 20)
    assert image.getchannel("A").getextrema() == (0, 0)


def test_grid_without_rows_gives_a_one_pixel_high_image() -> None:
    image = decode(render_heatmap(Grid(GRID_COLUMNS, 0, 20.0, {}), width_px=640))
    assert image.size == (640, 1)


def test_deterministic(hot_grid: Grid) -> None:
    first = render_heatmap(hot_grid, width_px=1280)
    shuffled = Grid(
        hot_grid.columns,
        hot_grid.rows,
        hot_grid.cell_px,
        dict(reversed(list(hot_grid.counts.items()))),
    )
    assert render_heatmap(hot_grid, width_px=1280) == first
    assert render_heatmap(shuffled, width_px=1280) == first


def test_other_widths_keep_columns_relative(hot_grid: Grid) -> None:
    # At 640 px the hot cell's columns are 10 px wide; rows stay 20 CSS px.
    alpha = alpha_of(decode(render_heatmap(hot_grid, width_px=640)))
    top = max(max(row) for row in alpha)
    for y, row in enumerate(alpha):
        for x, value in enumerate(row):
            if value == top:
                assert 100 <= x < 110
                assert 100 <= y < 120


def test_huge_requests_are_scaled_down_uniformly() -> None:
    grid = Grid(GRID_COLUMNS, 4096, 30.0, {(32, 4000): 3, (0, 0): 1})
    image = decode(render_heatmap(grid, width_px=1920))
    width, height = image.size
    assert height <= MAX_HEIGHT_PX
    assert width * height <= MAX_PIXELS * 1.01
    assert abs(width / height - 1920 / default_height(grid)) < 0.001
    wide = decode(render_heatmap(grid, width_px=100_000, height_px=10))
    assert wide.size[0] == MAX_WIDTH_PX


@pytest.mark.parametrize(("width", "height"), [(0, None), (-5, None), (100, 0)])
def test_refuses_empty_images(hot_grid: Grid, width: int, height: int | None) -> None:
    with pytest.raises(ValueError, match="positive"):
        render_heatmap(hot_grid, width_px=width, height_px=height)


# Equal counts spread over the grid's interior, its four edges, its corners and its last row,
# each far enough from the others that the blobs do not touch, plus a hotter and a cooler cell.
EQUAL = 5
SPREAD_ROWS = 24
SPREAD_CELLS = [
    (col, row)
    for col in (0, 8, 16, 24, 32, 40, 48, 56, 63)
    for row in (0, 6, 12, 18, SPREAD_ROWS - 1)
]


def spread_grid() -> Grid:
    counts = dict.fromkeys(SPREAD_CELLS, EQUAL)
    counts[(4, 3)] = 2 * EQUAL
    counts[(60, 15)] = 1
    return Grid(GRID_COLUMNS, SPREAD_ROWS, 20.0, counts)


def centre_colour(image: Image.Image, grid: Grid, cell: tuple[int, int]) -> tuple[int, ...]:
    """The colour at the centre of `cell` of an image of the grid's default height."""
    col, row = cell
    width, height = image.size
    x = int((col + 0.5) * width / grid.columns)
    y = int((row + 0.5) * grid.cell_px * height / default_height(grid))
    colour = image.getpixel((x, y))
    assert isinstance(colour, tuple)
    return colour


@pytest.mark.parametrize("width", [1280, 1920, 1000, 640, 375])
def test_equal_counts_get_equal_colours_wherever_they_are(width: int) -> None:
    grid = spread_grid()
    image = decode(render_heatmap(grid, width_px=width))
    colours = {cell: centre_colour(image, grid, cell) for cell in SPREAD_CELLS}
    first = colours[SPREAD_CELLS[0]]
    for cell, colour in colours.items():
        assert all(abs(a - b) <= 6 for a, b in zip(colour, first, strict=True)), (cell, colours)
    hottest = centre_colour(image, grid, (4, 3))
    assert hottest[0] > 240, hottest  # the largest count is red
    assert hottest[1] < 30, hottest
    assert first[3] < hottest[3]  # half the largest count: yellow-green, less opaque
    assert first[1] > 200, first
    assert first[2] < 60, first


def test_equal_counts_get_identical_colours_at_the_reference_width() -> None:
    grid = spread_grid()
    image = decode(render_heatmap(grid, width_px=1280))
    assert len({centre_colour(image, grid, cell) for cell in SPREAD_CELLS}) == 1


def test_the_last_rows_blobs_are_whole() -> None:
    grid = spread_grid()
    image = decode(render_heatmap(grid, width_px=1280))
    height = image.size[1]
    assert height > SPREAD_ROWS * 20
    alpha = alpha_of(image)
    assert all(value == 0 for value in alpha[height - 1])  # faded out before the bottom
    column = [row[32 * 20 + 10] for row in alpha]
    last_row_top = (SPREAD_ROWS - 1) * 20
    blob_above = last_row_top - max(y for y in range(last_row_top) if column[y] == 0)
    blob_below = max(y for y in range(height) if column[y] > 0) - (last_row_top + 19)
    assert abs(blob_below - blob_above) <= 1  # the blob is as tall below its cell as above
