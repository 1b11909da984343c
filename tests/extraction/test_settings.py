import pytest

from core.derived_events import DerivedEvent, Kind
from core.signal_settings import SignalSettings


def test_defaults_follow_posthog() -> None:
    settings = SignalSettings().validate()
    assert settings.to_document() == {
        "version": 1,
        "rage_click_count": 3,
        "rage_click_radius_px": 30,
        "rage_click_window_ms": 1000,
        "dead_click_mutation_ms": 2500,
        "dead_click_scroll_ms": 100,
        "error_click_ms": 1000,
        "max_text_length": 255,
    }


def test_round_trip() -> None:
    settings = SignalSettings(version=4, rage_click_count=5, rage_click_radius_px=12.5)
    assert SignalSettings.from_document(settings.to_document()) == settings


def test_from_document_falls_back_to_defaults_value_by_value() -> None:
    doc = {
        "version": 3,
        "rage_click_count": "5",
        "rage_click_radius_px": float("nan"),
        "rage_click_window_ms": True,
        "dead_click_mutation_ms": -1,
        "error_click_ms": 1500,
        "unknown": {"x": 1},
    }
    assert SignalSettings.from_document(doc) == SignalSettings(version=3, error_click_ms=1500)
    assert SignalSettings.from_document(None) == SignalSettings()
    assert SignalSettings.from_document([1, 2]) == SignalSettings()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rage_click_count": 1}, "rage_click_count must be between 2 and 100, got 1."),
        ({"rage_click_radius_px": 0}, "rage_click_radius_px must be between 1 and 1000, got 0."),
        ({"rage_click_window_ms": 0}, "rage_click_window_ms must be between 1 and 60000"),
        ({"dead_click_mutation_ms": 10**6}, "dead_click_mutation_ms must be between"),
        ({"dead_click_scroll_ms": 2.5}, "dead_click_scroll_ms must be an integer, got 2.5."),
        ({"error_click_ms": None}, "error_click_ms must be an integer, got None."),
        ({"max_text_length": 0}, "max_text_length must be between 1 and 4096"),
        ({"version": 0}, "version must be between 1"),
    ],
)
def test_validate_names_what_is_wrong(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match="Invalid signal settings") as raised:
        SignalSettings(**changes).validate()  # type: ignore[arg-type]
    assert message in str(raised.value)


def test_validate_lists_every_problem() -> None:
    with pytest.raises(ValueError, match=r"rage_click_count.*error_click_ms"):
        SignalSettings(rage_click_count=0, error_click_ms=0).validate()


def test_event_documents_leave_out_none_and_carry_the_key() -> None:
    event = DerivedEvent(Kind.CUSTOM, 1000, name="signup", properties={"plan": "pro"}, ordinal=2)
    doc = event.to_document()
    assert doc == {
        "key": "custom:1000:2",
        "kind": "custom",
        "timestamp": 1000,
        "text_masked": False,
        "name": "signup",
        "properties": {"plan": "pro"},
        "ordinal": 2,
    }
    assert type(doc["kind"]) is str
    assert doc["properties"] is not event.properties
