"""Time ranges as GraphQL arguments."""

from datetime import datetime

import strawberry

from core.time_ranges import check_range


@strawberry.input
class TimeRange:
    start: datetime
    end: datetime

    def checked(self) -> "TimeRange":
        check_range(self.start, self.end)
        return self
