"""Time ranges as GraphQL arguments."""

from datetime import datetime, timedelta

import strawberry

from graph.errors import UserError

MAX_RANGE = timedelta(days=400)


@strawberry.input
class TimeRange:
    start: datetime
    end: datetime

    def checked(self) -> "TimeRange":
        if self.end <= self.start:
            raise UserError("The range must end after it starts.")
        if self.end - self.start > MAX_RANGE:
            raise UserError(f"A range can span at most {MAX_RANGE.days} days.")
        return self
