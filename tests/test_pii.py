import pytest

from core.pii import findings_in_text, luhn_valid, redact, scan


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("write to jane@example.com today", ["email"]),
        ("jane@exa", ["email"]),
        ("card 4111 1111 1111 1111", ["card"]),
        ("card 4111-1111-1111-1111", ["card"]),
        ("4111111111111112", []),  # fails the Luhn check
        ("call +44 20 7946 0958", ["phone"]),
        ("(555) 123-4567", ["phone"]),
        ("order 1795910773345", []),
        ("12.00 EUR", []),
        ("2026-11-29", []),
        ("@handle", []),
        ("****@*******", []),
    ],
)
def test_findings(text: str, kinds: list[str]) -> None:
    assert [k for k, _, _ in findings_in_text(text)] == kinds


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("378282246310005")
    assert not luhn_valid("378282246310006")


def test_scan_reports_kinds_and_redact_keeps_shape() -> None:
    event = {
        "type": 3,
        "data": {"source": 5, "text": "jane@example.com", "id": 70},
        "n": [1, "+44 20 7946 0958"],
    }
    assert sorted(scan(event)) == ["email", "phone"]
    cleaned = redact(event)
    assert cleaned["data"]["text"] == "*" * len("jane@example.com")
    assert cleaned["n"] == [1, "*** ** **** ****"]
    assert cleaned["data"]["id"] == 70
    assert scan(cleaned) == []
    assert event["data"]["text"] == "jane@example.com"
