"""Finding personal data that masking missed: email addresses, payment card numbers
(that pass the Luhn check) and phone numbers, in any string of a recording.

`scan` reports what kind was found where, never the value; `redact` returns the
event with every finding replaced by `*` of the same length.
"""

import re
from collections.abc import Iterator
from typing import Any

# Also partial addresses ("jane@exa"): recorders capture one keystroke at a time.
EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{0,253}")
CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
# International (+...) or grouped with separators; bare digit runs are ids more often.
PHONE = re.compile(
    r"(?<![\w+])(?:\+\d[\d ().-]{7,17}\d|\(?\d{2,4}\)?[ .-]\d{2,4}[ .-]\d{3,5})(?!\w)"
)
PATTERNS = (("email", EMAIL), ("card", CARD), ("phone", PHONE))


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _accept(kind: str, match: str) -> bool:
    if kind == "card":
        digits = _digits(match)
        return 13 <= len(digits) <= 19 and luhn_valid(digits)
    if kind == "phone":
        return 8 <= len(_digits(match)) <= 15
    return True


def findings_in_text(text: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every finding, without overlaps (earlier kinds win)."""
    found: list[tuple[str, int, int]] = []
    for kind, pattern in PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            overlaps = any(s < end and start < e for _, s, e in found)
            if not overlaps and _accept(kind, match.group()):
                found.append((kind, start, end))
    return found


def _strings(value: Any) -> Iterator[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def scan(event: Any) -> list[str]:
    """The kinds of personal data found in an event's strings, one entry per finding."""
    return [
        kind
        for text in _strings(event)
        if not _masked(text)
        for kind, _, _ in findings_in_text(text)
    ]


def _masked(text: str) -> bool:
    return not text.strip("* \n\t")


def _redact_text(text: str) -> str:
    found = findings_in_text(text)
    if not found:
        return text
    chars = list(text)
    for _, start, end in found:
        for i in range(start, end):
            if not chars[i].isspace():
                chars[i] = "*"
    return "".join(chars)


def redact(value: Any) -> Any:
    """A copy of `value` with every finding in its strings replaced by `*`."""
    if isinstance(value, str):
        return _redact_text(value)
    if isinstance(value, dict):
        return {key: redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value
