"""The longest time range a query may cover, and the one check of a range's bounds.

Every read over a range (events, counts, funnels, heatmaps, privacy scans) costs up to its
length, and the static cost budget (`graph/cost.py`) prices the longest one; both GraphQL
arguments and HTTP query parameters go through `check_range`.
"""

from datetime import datetime, timedelta

from core.errors import BadRequest

MAX_RANGE = timedelta(days=400)


def check_range(start: datetime, end: datetime) -> None:
    if end <= start:
        raise BadRequest("The range must end after it starts.")
    if end - start > MAX_RANGE:
        raise BadRequest(f"A range can span at most {MAX_RANGE.days} days.")
