"""A site's frustration-signal thresholds, as the API shows and changes them."""

from collections.abc import Mapping
from dataclasses import replace

import strawberry

from core.signal_settings import SignalSettings
from graph.errors import UserError
from storage.database import Document


@strawberry.type(
    name="SignalSettings",
    description="Thresholds of rage, dead and error clicks; `version` rises with each change "
    "and is stamped on every signal event derived under it.",
)
class SignalSettingsType:
    version: int
    rage_click_count: int
    rage_click_radius_px: float
    rage_click_window_ms: int
    dead_click_mutation_ms: int
    dead_click_scroll_ms: int
    error_click_ms: int

    @classmethod
    def from_document(cls, doc: Mapping[str, object] | None) -> "SignalSettingsType":
        settings = SignalSettings.from_document(doc)
        return cls(**{name: getattr(settings, name) for name in _FIELDS})


_FIELDS = (
    "version", "rage_click_count", "rage_click_radius_px", "rage_click_window_ms",
    "dead_click_mutation_ms", "dead_click_scroll_ms", "error_click_ms",
)  # fmt: skip


@strawberry.input(description="New thresholds; fields left out keep their value.")
class SignalSettingsInput:
    rage_click_count: int | None = None
    rage_click_radius_px: float | None = None
    rage_click_window_ms: int | None = None
    dead_click_mutation_ms: int | None = None
    dead_click_scroll_ms: int | None = None
    error_click_ms: int | None = None


def changed_signals(
    current: Mapping[str, object] | None, change: SignalSettingsInput
) -> Document | None:
    """The new stored settings (version raised), or None when nothing changes."""
    settings = SignalSettings.from_document(current)
    values = {k: v for k, v in vars(change).items() if v is not None}
    updated = replace(settings, **values)
    if updated == settings:
        return None
    try:
        return replace(updated, version=settings.version + 1).validate().to_document()
    except ValueError as exc:
        raise UserError(str(exc)) from None
