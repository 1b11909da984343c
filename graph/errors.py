"""Errors a client is meant to read.

A resolver raises a `UserError` (or a subclass) for anything the caller can
fix; its message and code reach the client. Every other exception is masked
to "Unexpected error." and logged with its trace on the server.
"""

from typing import ClassVar


class UserError(Exception):
    code: ClassVar[str] = "BAD_REQUEST"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def extensions(self) -> dict[str, str]:
        return {"code": self.code}


class AuthenticationError(UserError):
    code = "UNAUTHENTICATED"


class ForbiddenError(UserError):
    code = "FORBIDDEN"


class NotFoundError(UserError):
    """Also what a caller gets for another account's object: the two look the same."""

    code = "NOT_FOUND"


class TooManyAttemptsError(UserError):
    code = "TOO_MANY_ATTEMPTS"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"Too many attempts, retry after {retry_after_s} s.")
        self.retry_after_s = retry_after_s

    @property
    def extensions(self) -> dict[str, str]:
        return {"code": self.code, "retryAfter": str(self.retry_after_s)}


class ServiceUnavailableError(UserError):
    code = "SERVICE_UNAVAILABLE"


class QueryTimeoutError(UserError):
    code = "QUERY_TIMEOUT"

    def __init__(
        self, message: str = "The query took too long; narrow the range or filters."
    ) -> None:
        super().__init__(message)


class QueryTooCostlyError(UserError):
    """The query's static cost estimate (`graph/cost.py`) is over the budget."""

    code = "QUERY_TOO_COSTLY"
