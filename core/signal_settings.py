"""The thresholds of the frustration signals, stored per site with a version so that a worker
can recompute history when they change. Published definitions compared: posthog-js
`packages/browser/src/extensions/rageclick.ts`, OpenReplay's `backend/pkg/handlers/web`
(3 same-label clicks < 300 ms apart) and highlight.io's rage-click docs (5 clicks, 8 px, 5 s).

The defaults follow posthog-js: rage clicks are 3 clicks closer than 30 px to the previous one
within 1000 ms from first to last; dead clicks have no DOM mutation within 2500 ms and no scroll
or selection change within 100 ms.
"""

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

# Inclusive bounds of every setting; each must also be an int, except the radius (int or float).
_BOUNDS: dict[str, tuple[int, int]] = {
    "version": (1, 1_000_000),
    "rage_click_count": (2, 100),
    "rage_click_radius_px": (1, 1000),
    "rage_click_window_ms": (1, 60_000),
    "dead_click_mutation_ms": (1, 60_000),
    "dead_click_scroll_ms": (1, 60_000),
    "error_click_ms": (1, 60_000),
    "max_text_length": (1, 4096),
}
_FLOAT_FIELDS = frozenset({"rage_click_radius_px"})


@dataclass(frozen=True)
class SignalSettings:
    version: int = 1
    rage_click_count: int = 3
    rage_click_radius_px: float = 30
    rage_click_window_ms: int = 1000
    dead_click_mutation_ms: int = 2500
    dead_click_scroll_ms: int = 100
    error_click_ms: int = 1000
    max_text_length: int = 255

    def validate(self) -> "SignalSettings":
        """These settings, when every value is of the right type and within its bounds;
        otherwise ValueError naming every value that is not."""
        problems = [
            problem
            for item in fields(self)
            if (problem := _problem(item.name, getattr(self, item.name))) is not None
        ]
        if problems:
            raise ValueError("Invalid signal settings: " + " ".join(problems))
        return self

    def to_document(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_document(cls, doc: Mapping[str, Any] | None) -> "SignalSettings":
        """Settings from a stored document; a missing, mistyped or out-of-range value falls
        back to its default, and unknown keys are ignored."""
        if not isinstance(doc, Mapping):
            return cls()
        values: dict[str, Any] = {}
        for item in fields(cls):
            value = doc.get(item.name)
            if _problem(item.name, value) is None:
                values[item.name] = value
        return cls(**values)


def _problem(name: str, value: object) -> str | None:
    low, high = _BOUNDS[name]
    kind = "a number" if name in _FLOAT_FIELDS else "an integer"
    number = _number(value, integer=name not in _FLOAT_FIELDS)
    if number is None:
        return f"{name} must be {kind}, got {value!r}."
    if not low <= number <= high:
        return f"{name} must be between {low} and {high}, got {value!r}."
    return None


def _number(value: object, *, integer: bool) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not integer and isinstance(value, float) and math.isfinite(value):
        return value
    return None
