import math

import pytest

from core.heatmaps import (
    GRID_COLUMNS,
    MAX_PAGE_KEY,
    MAX_ROWS,
    MIN_REFERENCE_WIDTH,
    SCROLL_STEPS,
    WIDTH_BUCKETS,
    Grid,
    band_cell_px,
    cell_key,
    click_cell,
    field_safe,
    field_unsafe,
    grid_from_cells,
    move_cell,
    normalize_page,
    parse_cell_key,
    scroll_bucket,
    scroll_reach,
    top_elements,
    width_bucket,
)

# --- normalize_page -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://example.com/pricing", "example.com/pricing"),
        ("http://example.com/pricing", "example.com/pricing"),
        ("https://example.com/pricing?utm_source=x&plan=pro", "example.com/pricing"),
        ("https://example.com/pricing/", "example.com/pricing"),
        ("https://example.com/pricing///", "example.com/pricing"),
        ("https://example.com/", "example.com/"),
        ("https://example.com", "example.com/"),
        ("https://example.com?x=1", "example.com/"),
        ("https://Shop.EXAMPLE.com/Pricing", "shop.example.com/Pricing"),
        ("https://example.com./a", "example.com/a"),
        ("https://example.com/pricing#plans", "example.com/pricing"),
        ("https://example.com/#/app/settings", "example.com/"),
        ("https://user:secret@example.com/a", "example.com/a"),
        ("https://example.com:443/a", "example.com/a"),
        ("http://example.com:80/a", "example.com/a"),
        ("https://example.com:8443/a", "example.com:8443/a"),
        ("http://localhost:8080/a/", "localhost:8080/a"),
        ("http://[::1]:3000/a", "[::1]:3000/a"),
        ("  https://example.com/a \n", "example.com/a"),
        ("example.com/pricing/", "example.com/pricing"),
        ("//example.com/pricing", "example.com/pricing"),
        ("/pricing", "/pricing"),
        ("/pricing/?plan=pro#x", "/pricing"),
        ("/", "/"),
    ],
)
def test_normalize_page(url: str, key: str) -> None:
    assert normalize_page(url) == key


def test_normalize_page_keeps_listed_params_sorted() -> None:
    url = "https://example.com/search?utm=1&q=shoes&page=2&q=boots&empty="
    assert normalize_page(url, ["q", "page", "empty"]) == (
        "example.com/search?empty=&page=2&q=boots&q=shoes"
    )
    assert normalize_page(url, ["page"]) == "example.com/search?page=2"
    assert normalize_page(url, ["missing"]) == "example.com/search"
    assert normalize_page("/search?q=a b&x=1", ["q"]) == "/search?q=a%20b"


def test_normalize_page_params_in_any_order_give_one_key() -> None:
    first = normalize_page("https://example.com/s?b=2&a=1", ["a", "b"])
    assert first == normalize_page("https://example.com/s?a=1&b=2", ["a", "b"])
    assert first == "example.com/s?a=1&b=2"


@pytest.mark.parametrize(
    "garbage",
    ["", "not a url", "pricing", "about:blank", "ftp://example.com/a", "http://[::1", "http://"],
)
def test_normalize_page_returns_garbage_trimmed(garbage: str) -> None:
    assert normalize_page(f"  {garbage}  ") == garbage


def test_normalize_page_bad_port_and_host_are_garbage() -> None:
    assert normalize_page("http://example.com:99999/a") == "http://example.com:99999/a"
    assert normalize_page("http://exa mple.com/a") == "http://exa mple.com/a"


def test_normalize_page_caps_length() -> None:
    long_garbage = "x" * 5000
    assert normalize_page(long_garbage) == "x" * MAX_PAGE_KEY
    long_url = "https://example.com/" + "a" * 5000
    assert len(normalize_page(long_url)) == MAX_PAGE_KEY


@pytest.mark.parametrize(
    "url",
    [
        "https://Example.com/A/b/?q=1&z=2#f",
        "http://localhost:8080/",
        "https://[2001:db8::1]:8443/x",
        "/pricing/",
        "garbage here",
    ],
)
def test_normalize_page_is_idempotent(url: str) -> None:
    key = normalize_page(url, ["q"])
    assert normalize_page(key, ["q"]) == key


# --- width bands ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "band"),
    [
        (None, 0),
        (-5, 0),
        (0, 0),
        (320, 0),
        (479, 0),
        (480, 480),
        (767, 480),
        (768, 768),
        (1023, 768),
        (1024, 1024),
        (1280, 1280),
        (1599, 1280),
        (1600, 1600),
        (1919, 1600),
        (1920, 1920),
        (3840, 1920),
    ],
)
def test_width_bucket(width: int | None, band: int) -> None:
    assert width_bucket(width) == band


def test_band_cell_px_uses_the_lower_bound_but_never_zero() -> None:
    assert band_cell_px(1280) == 20.0
    assert band_cell_px(1920) == 30.0
    assert band_cell_px(0) == MIN_REFERENCE_WIDTH / GRID_COLUMNS
    assert all(band_cell_px(band) > 0 for band in WIDTH_BUCKETS)


# --- the grid -------------------------------------------------------------------------------


def test_click_cell_columns_follow_the_viewport_width() -> None:
    assert click_cell(0, 0, 1280) == (0, 0)
    assert click_cell(640, 0, 1280) == (32, 0)
    # The middle of a wider viewport in the same band is the same column...
    assert click_cell(750, 0, 1500) == (32, 0)
    # ...and rows are CSS pixels of the band's cell size (1280 / 64 = 20).
    assert click_cell(10, 39.9, 1280) == (0, 1)
    assert click_cell(10, 40, 1500) == (0, 2)
    assert click_cell(10, 40, 375) == (1, 8)  # phones: 320 / 64 = 5 px rows


def test_click_cell_edges() -> None:
    assert click_cell(1279.99, 0, 1280) == (GRID_COLUMNS - 1, 0)
    assert click_cell(1280, 0, 1280) == (GRID_COLUMNS - 1, 0)
    assert click_cell(1280.5, 0, 1280) is None
    assert click_cell(5000, 0, 1280) is None


@pytest.mark.parametrize(
    ("x", "y", "width"),
    [
        (-1, 10, 1280),
        (10, -0.5, 1280),
        (math.nan, 10, 1280),
        (10, math.nan, 1280),
        (math.inf, 10, 1280),
        (10, math.inf, 1280),
        (10, 1e300, 1280),
        (10, 10, 0),
        (10, 10, -1280),
    ],
)
def test_click_cell_rejects(x: float, y: float, width: int) -> None:
    assert click_cell(x, y, width) is None


def test_click_cell_stops_at_max_rows() -> None:
    cell_px = band_cell_px(1280)
    assert click_cell(0, MAX_ROWS * cell_px - 0.01, 1280) == (0, MAX_ROWS - 1)
    assert click_cell(0, MAX_ROWS * cell_px, 1280) is None


def test_click_cell_rejects_non_numbers() -> None:
    assert click_cell(None, 1, 1280) is None  # type: ignore[arg-type]
    assert click_cell(1, "2", 1280) is None  # type: ignore[arg-type]
    assert click_cell(1, 2, True) is None


def test_move_cell_is_the_click_grid() -> None:
    assert move_cell(640, 100, 1280) == click_cell(640, 100, 1280)


def test_cell_key_round_trip() -> None:
    for cell in [(0, 0), (12, 340), (GRID_COLUMNS - 1, MAX_ROWS - 1)]:
        key = cell_key(*cell)
        assert "." not in key
        assert not key.startswith("$")
        assert parse_cell_key(key) == cell
    assert cell_key(12, 340) == "c12r340"


@pytest.mark.parametrize(("col", "row"), [(-1, 0), (0, -1), (GRID_COLUMNS, 0), (0, MAX_ROWS)])
def test_cell_key_refuses_cells_outside_the_grid(col: int, row: int) -> None:
    with pytest.raises(ValueError, match="outside the grid"):
        cell_key(col, row)


@pytest.mark.parametrize(
    "key", ["", "c1", "r1", "c1r", "c01r1", "c1r01", "c-1r1", "c64r0", "c0r4096", "x1r1", "c1r1 "]
)
def test_parse_cell_key_rejects(key: str) -> None:
    assert parse_cell_key(key) is None


def test_grid_totals_and_packed_order() -> None:
    grid = Grid(GRID_COLUMNS, 10, 20.0, {(5, 2): 3, (1, 2): 1, (9, 0): 7, (0, 9): 0})
    assert grid.total == 11
    assert grid.max_count == 7
    assert grid.packed() == [9, 0, 7, 1, 2, 1, 5, 2, 3]


def test_empty_grid() -> None:
    grid = Grid(GRID_COLUMNS, 0, 20.0, {})
    assert (grid.total, grid.max_count, grid.packed()) == (0, 0, [])


def test_grid_merge_sums_cells() -> None:
    first = Grid(GRID_COLUMNS, 3, 20.0, {(0, 0): 1, (1, 2): 2})
    second = Grid(GRID_COLUMNS, 8, 20.0, {(1, 2): 5, (3, 7): 1})
    merged = first.merge(second)
    assert merged == Grid(GRID_COLUMNS, 8, 20.0, {(0, 0): 1, (1, 2): 7, (3, 7): 1})
    assert first.counts == {(0, 0): 1, (1, 2): 2}  # the inputs are left alone
    assert merged.total == first.total + second.total


def test_grid_merge_refuses_other_bands() -> None:
    with pytest.raises(ValueError, match="same width band"):
        Grid(GRID_COLUMNS, 1, 20.0, {}).merge(Grid(GRID_COLUMNS, 1, 30.0, {}))


def test_grid_from_cells() -> None:
    cells = {"c1r2": 4, "c0r0": 1, "bogus": 9, "c2r9": 0, "c3r5": -2}
    grid = grid_from_cells(cells, 1280)
    assert grid == Grid(GRID_COLUMNS, 3, 20.0, {(1, 2): 4, (0, 0): 1})
    assert grid_from_cells({}, 0).rows == 0


# --- scroll ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("share", "step"),
    [
        (0.0, 0),
        (0.04, 0),
        (0.05, 1),
        (0.15, 3),
        (0.5, 10),
        (0.7, 14),
        (0.9499, 18),
        (0.95, 19),
        (1.0, 19),
        (1.7, 19),
    ],
)
def test_scroll_bucket_from_share(share: float, step: int) -> None:
    assert scroll_bucket(share, None, None) == step


def test_scroll_bucket_from_pixels() -> None:
    assert scroll_bucket(None, 500, 1000) == 10
    assert scroll_bucket(None, 0, 1000) == 0
    assert scroll_bucket(None, 2500, 1000) == SCROLL_STEPS - 1
    # The share wins when both are known.
    assert scroll_bucket(0.25, 900, 1000) == 5
    # An unusable share falls back on the pixels.
    assert scroll_bucket(math.nan, 300, 1000) == 6
    assert scroll_bucket(-0.5, 300, 1000) == 6


@pytest.mark.parametrize(
    ("share", "depth_px", "page_height"),
    [(None, None, None), (None, 500, None), (None, None, 1000), (None, 500, 0), (None, -1, 100)],
)
def test_scroll_bucket_unknown(
    share: float | None, depth_px: int | None, page_height: int | None
) -> None:
    assert scroll_bucket(share, depth_px, page_height) is None


def test_scroll_reach() -> None:
    reach = scroll_reach({0: 10, 9: 30, 19: 60})
    assert len(reach) == SCROLL_STEPS
    assert reach[0] == 1.0
    assert reach[1:10] == [0.9] * 9
    assert reach[10:] == [0.6] * 10


def test_scroll_reach_is_non_increasing_and_ignores_bad_steps() -> None:
    reach = scroll_reach({3: 1, 4: 2, 7: 1, 25: 100, -1: 100, 8: -4})
    assert reach[0] == 1.0
    assert reach == sorted(reach, reverse=True)
    assert reach[4] == 0.75
    assert reach[5] == 0.25
    assert reach[8] == 0.0


def test_scroll_reach_without_views() -> None:
    assert scroll_reach({}) == [0.0] * SCROLL_STEPS
    assert scroll_reach({2: 0}) == [0.0] * SCROLL_STEPS


# --- top elements ---------------------------------------------------------------------------


def test_top_elements() -> None:
    counts = {"#buy": 50, "nav > a": 25, "a.b": 25, "footer": 0, "#x": -3}
    assert top_elements(counts) == [("#buy", 50, 0.5), ("a.b", 25, 0.25), ("nav > a", 25, 0.25)]
    assert top_elements(counts, limit=1) == [("#buy", 50, 0.5)]
    assert top_elements(counts, limit=0) == []
    assert top_elements({}) == []


def test_top_element_shares_count_every_click_not_just_the_listed() -> None:
    counts = {f"#e{index}": 1 for index in range(40)}
    top = top_elements(counts, limit=20)
    assert len(top) == 20
    assert [share for _, _, share in top] == [1 / 40] * 20


# --- field names ----------------------------------------------------------------------------

TRICKY = [
    "a.b$c",
    "",
    "$",
    "$set",
    ".",
    "..",
    "%",
    "%25",
    "%2E",
    "%%2E.",
    "100%",
    "a%b",
    "\0",
    "a\0b",
    "élément.prix €",
    "日本語.ページ",
    "emoji 😀.$",
    "\ud800",
    "a\udfffb",
    "%uD800",
    "div#main > ul.nav li:nth-child(2) a[href='/x.y']",
    "example.com/pricing?q=a.b",
]


@pytest.mark.parametrize("text", TRICKY)
def test_field_safe_round_trips(text: str) -> None:
    name = field_safe(text)
    assert field_unsafe(name) == text
    assert name
    assert "." not in name
    assert not name.startswith("$")
    assert "\0" not in name
    name.encode("utf-8")  # BSON needs valid UTF-8
    assert field_safe(text) == name


def test_field_safe_is_injective_on_tricky_strings() -> None:
    assert len({field_safe(text) for text in TRICKY}) == len(TRICKY)


def test_field_safe_keeps_ordinary_text_readable() -> None:
    assert field_safe("nav > a") == "nav > a"
    assert field_safe("a.b$c") == "a%2Eb%24c"


def test_field_safe_writes_the_empty_string_as_a_lone_escape() -> None:
    assert field_safe("") == "%"
    assert field_unsafe("%") == ""


@pytest.mark.parametrize("name", ["%%", "%2", "%zz", "%2e", "a%41", "%u0041", "%uD80"])
def test_field_unsafe_rejects_what_field_safe_never_writes(name: str) -> None:
    with pytest.raises(ValueError, match="field_safe"):
        field_unsafe(name)
