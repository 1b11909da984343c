"""Opaque keyset cursors and the page-size rule every list field follows.

Cursors are signed and typed (`core.cursors`); each paged list names its own `CursorKind`,
so a cursor is only ever read back as the sort value that list expects.
"""

from typing import Any

import strawberry

from core import cursors
from core.cursors import CursorKind
from graph.errors import UserError

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


def decode_cursor(secret: bytes, kind: CursorKind, cursor: str) -> tuple[Any, str]:
    """The position in `cursor`, or a BAD_REQUEST for anything this list did not issue."""
    try:
        return cursors.decode(secret, kind, cursor)
    except cursors.CursorError:
        raise UserError(INVALID_CURSOR) from None
