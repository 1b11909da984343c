"""Typed query parameters for Starlette routes, refused as `BAD_REQUEST` when malformed.

Every value is already bounded in length and valid Unicode
(`api.query_bounds`); these turn text into the number or time a route needs,
within the range it can use, so `?width=1000…0` is a 400, never an overflow.
"""

from datetime import UTC, datetime

from starlette.datastructures import QueryParams

from core.errors import BadRequest


def int_param(
    params: QueryParams, name: str, *, minimum: int, maximum: int, default: int | None = None
) -> int | None:
    text = params.get(name)
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)):
        raise BadRequest(f"`{name}` must be a whole number from {minimum} to {maximum}.")
    value = int(text)
    if not minimum <= value <= maximum:
        raise BadRequest(f"`{name}` must be a whole number from {minimum} to {maximum}.")
    return value


def time_param(params: QueryParams, name: str, default: datetime) -> datetime:
    """An ISO 8601 date or time; one without an offset is read as UTC."""
    text = params.get(name)
    if not text:
        return default
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"`{name}` must be an ISO 8601 date or time.") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
