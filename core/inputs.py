"""Bounds on the text and numbers a request may carry, checked once where requests enter.

A lone surrogate (`"\\ud800"` in JSON) decodes to a Python `str` that cannot be
encoded as UTF-8, so it fails deep inside the driver or a log handler; a
5,000-digit number exceeds Python's integer parsing limit and any 64-bit field.
Both are refused at the door as `BAD_REQUEST`, with messages that never quote
the value (it may be a password), and so is a NUL character, which no input has a use for
and PostgreSQL's JSON (under FerretDB) cannot store. Recordings are not refused for one:
`without_nul` replaces it in what a page sent. No input the API takes is legitimately longer
than `MAX_TEXT_CHARS`, the longest page URL ingestion stores.
"""

from typing import Any

from core.errors import BadRequest

MAX_TEXT_CHARS = 4096
MAX_INT = 2**63 - 1  # MongoDB's widest integer
_MAX_INT_CHARS = len(str(-MAX_INT - 1))


def check_text(value: str, where: str, *, max_chars: int | None = MAX_TEXT_CHARS) -> str:
    """`value` if it is valid Unicode text of at most `max_chars` characters."""
    if max_chars is not None and len(value) > max_chars:
        raise BadRequest(f"{where} is longer than {max_chars} characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"{where} is not valid Unicode text (a lone surrogate).") from None
    if "\x00" in value:
        raise BadRequest(f"{where} contains a NUL character.")
    return value


REPLACEMENT = "\ufffd"


def without_nul(value: Any) -> Any:
    """`value` (parsed JSON) with every NUL in its strings and keys replaced by U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", REPLACEMENT)
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    return value


def check_int(value: int, where: str) -> int:
    if not -MAX_INT - 1 <= value <= MAX_INT:
        raise BadRequest(f"{where} is a number beyond 64 bits.")
    return value


def parse_int(text: str, where: str) -> int:
    """Decimal digits as an int, refused before Python parses a huge one."""
    if len(text) > _MAX_INT_CHARS:
        raise BadRequest(f"{where} is a number beyond 64 bits.")
    return check_int(int(text), where)
