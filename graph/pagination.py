"""Opaque keyset cursors and the page-size rule every list field follows.

Cursors are signed and typed (`core.cursors`); each paged list names its own `CursorKind`,
so a cursor is only ever read back as the sort value that list expects.
"""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry

from core import cursors
from core.cursors import CursorKind
from graph.errors import UserError

Row = TypeVar("Row")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
INVALID_CURSOR = "The cursor is not valid; use `endCursor` from a previous page of this list."


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise UserError(f"`first` must be between 1 and {MAX_PAGE_SIZE}.")
    return first


def encode_cursor(secret: bytes, kind: CursorKind, value: Any, doc_id: str) -> str:
    return cursors.encode(secret, kind, value, doc_id)


async def keyset_page(
    secret: bytes,
    kind: CursorKind,
    first: int | None,
    after: str | None,
    fetch: Callable[[tuple[Any, str] | None, int], Awaitable[list[Row]]],
    position_of: Callable[[Row], tuple[Any, str]],
) -> tuple[list[Row], PageInfo]:
    """One page of a keyset-paginated list: `fetch(position, n)` returns up to `n` rows after
    `position` (the decoded `after`, None for the first page); one more than the page is
    asked for, to know whether another page follows. `position_of` gives a row's sort value
    and id, for the page's `endCursor`."""
    limit = page_size(first)
    position = decode_cursor(secret, kind, after) if after is not None else None
    rows = await fetch(position, limit + 1)
    page = rows[:limit]
    end = encode_cursor(secret, kind, *position_of(page[-1])) if page else None
    return page, PageInfo(has_next_page=len(rows) > limit, end_cursor=end)


def decode_cursor(secret: bytes, kind: CursorKind, cursor: str) -> tuple[Any, str]:
    """The position in `cursor`, or a BAD_REQUEST for anything this list did not issue."""
    try:
        return cursors.decode(secret, kind, cursor)
    except cursors.CursorError:
        raise UserError(INVALID_CURSOR) from None
