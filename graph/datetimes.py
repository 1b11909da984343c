"""The `DateTime` input scalar, normalised to UTC before any resolver sees it.

Strawberry's own scalar keeps the sender's offset, or none: a naive and an aware
value then cannot be compared, and a value at the calendar's edge (year 1 with
a positive offset, year 9999 with a negative one) overflows when converted.
"""

from datetime import UTC, datetime

from strawberry.schema.types.base_scalars import DateTimeDefinition, wrap_parser
from strawberry.types.scalar import ScalarDefinition


def parse_datetime(value: str) -> datetime:
    """An ISO 8601 date and time in UTC; one without an offset is read as UTC."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("It falls outside the years 1 to 9999 in UTC.") from None


DATETIME = ScalarDefinition(
    name=DateTimeDefinition.name,
    description=DateTimeDefinition.description,
    specified_by_url=None,
    serialize=DateTimeDefinition.serialize,
    parse_value=wrap_parser(parse_datetime, "DateTime", exceptions=(ValueError, OverflowError)),
    parse_literal=None,
    origin=datetime,
)
