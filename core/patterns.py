"""Regular expressions written by users, compiled for linear-time matching.

Python's `re` backtracks: `(a+)+$` over 28 `a`s and a `!` held the API's event loop for 24 s,
twice as long with each more character. Every pattern a user supplies is compiled here, with
RE2 (google-re2), whose matching time grows linearly with the text and never with the pattern's
nesting. RE2 has no backreferences and no lookaround; a pattern using them is refused, as is a
pattern too long, too large once compiled, or with a repetition count above `MAX_REPEAT` (RE2
reads an overflowing count such as `a{99999999999}` as something that never matches). Every
refusal is a `PatternError` whose message names the problem.
"""

from typing import Any

import re2

MAX_PATTERN_LENGTH = 500
MAX_REPEAT = 1000
MAX_PROGRAM_SIZE = 10_000
MAX_MEMORY_BYTES = 2**20


class PatternError(ValueError):
    """A pattern that cannot be used; the message says why, for the user."""


class Pattern:
    """A compiled user pattern; `search` answers whether it occurs anywhere in a text."""

    __slots__ = ("_regexp", "source")

    def __init__(self, source: str, regexp: Any) -> None:
        self.source = source
        self._regexp = regexp

    def search(self, text: str) -> bool:
        return self._regexp.search(text) is not None


def compile_pattern(source: str) -> Pattern:
    """`source` compiled with RE2 under the limits above, or a `PatternError`."""
    if len(source) > MAX_PATTERN_LENGTH:
        raise PatternError(f"too long ({len(source)} characters, at most {MAX_PATTERN_LENGTH})")
    _check_repeats(source)
    try:
        regexp = re2.compile(source, _options())
    except re2.error as exc:
        raise PatternError(_reason(exc)) from None
    if regexp.programsize > MAX_PROGRAM_SIZE:
        raise PatternError(
            f"too complex ({regexp.programsize} instructions once compiled, "
            f"at most {MAX_PROGRAM_SIZE})"
        )
    return Pattern(source, regexp)


def _options() -> Any:
    options = re2.Options()
    options.max_mem = MAX_MEMORY_BYTES
    options.log_errors = False
    return options


def _reason(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else exc
    text = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
    if text.startswith("invalid perl operator: (?") and text[-1:] in "=!":
        return f"{text} (lookahead and lookbehind are not supported)"
    if text.startswith("invalid escape sequence: \\") and text[-1:].isdigit():
        return f"{text} (backreferences are not supported)"
    if text.startswith("pattern too large"):
        return f"too complex (more than {MAX_MEMORY_BYTES // 1024} KiB once compiled)"
    return text


def _check_repeats(source: str) -> None:
    """Refuse `{n}`, `{n,}` and `{n,m}` with a count above MAX_REPEAT, outside classes."""
    index, in_class = 0, False
    while index < len(source):
        char = source[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class, index = True, _class_body_start(source, index + 1)
            continue
        elif char == "{":
            _check_count(source, index)
        index += 1


def _class_body_start(source: str, index: int) -> int:
    """Past a leading `^` and a leading `]`, which do not close the class."""
    if source.startswith("^", index):
        index += 1
    return index + 1 if source.startswith("]", index) else index


def _check_count(source: str, start: int) -> None:
    end = source.find("}", start)
    if end < 0:
        return
    bounds = source[start + 1 : end].split(",")
    if len(bounds) > 2 or not all(b.isascii() and b.isdigit() for b in bounds if b):
        return
    if not bounds[0]:
        return
    for bound in bounds:
        if bound and (len(bound) > 6 or int(bound) > MAX_REPEAT):
            raise PatternError(
                f"repetition count {{{source[start + 1 : end]}}} is above {MAX_REPEAT}"
            )
