"""Datetimes and epoch milliseconds, the one conversion every layer uses.

BSON stores a datetime as whole milliseconds since the epoch, cutting off the rest, so a
time converts the way the database would store it: rounded down, with a naive datetime
taken as UTC. Integer arithmetic only; `timestamp() * 1000` is a float and can land a
millisecond early.
"""

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)
DAY_MS = 86_400_000


def epoch_ms(when: datetime) -> int:
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return (aware - EPOCH) // MILLISECOND


def from_epoch_ms(ms: int) -> datetime:
    """The UTC datetime of `ms`, exactly."""
    return EPOCH + ms * MILLISECOND


def day_of(ms: int) -> int:
    """The start (epoch ms) of the UTC day holding `ms`."""
    return ms - ms % DAY_MS
