"""Opaque keyset cursors and the page-size rule every list field follows."""

import base64
from datetime import UTC, datetime
from typing import Any

import orjson
import strawberry

from graph.errors import UserError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


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


def encode_cursor(value: Any, doc_id: str) -> str:
    if isinstance(value, datetime):
        value = {"t": int(value.timestamp() * 1000)}
    return base64.urlsafe_b64encode(orjson.dumps([value, doc_id])).decode()


def decode_cursor(cursor: str) -> tuple[Any, str]:
    try:
        value, doc_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        raise UserError("The cursor is not valid; use `endCursor` from a previous page.") from None
    if not isinstance(doc_id, str):
        raise UserError("The cursor is not valid; use `endCursor` from a previous page.")
    if isinstance(value, dict) and isinstance(value.get("t"), int):
        value = datetime.fromtimestamp(value["t"] / 1000, UTC)
    return value, doc_id
