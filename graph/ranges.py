"""Time ranges as GraphQL arguments, checked when the argument is read.

Strawberry builds a `TimeRange` for every argument of this type before the resolver
runs, so a backwards or overlong range is refused (BAD_REQUEST) for every field that takes
one, and no resolver has to remember to check it.
"""

from datetime import datetime

import strawberry

from core.time_ranges import check_range


@strawberry.input
class TimeRange:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        check_range(self.start, self.end)
