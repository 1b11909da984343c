"""The one error boundary: every error a caller may see, and how each is answered.

Code anywhere (a resolver, a route, a storage helper) raises a `SightlineError`
subclass for anything the caller can act on; its message reaches the caller.
`ANSWERS` is the only place that says which GraphQL `extensions.code` and which
HTTP status each class gets, so the GraphQL error hook and the Starlette
exception handler cannot drift apart. Errors of the libraries underneath that
mean the same thing for every caller (MongoDB or Redis out of reach, a query
stopped at its time budget) are translated through `TRANSLATIONS`, walking the
exception's classes the way HTTPX maps httpcore's errors onto its own. The
database driver's entries are registered by `storage/` (`storage/errors.py`),
the only code that knows the driver. Anything else is a bug: it is answered
`INTERNAL` with a fixed message, never its own.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from redis import exceptions as redis_errors


class SightlineError(Exception):
    """A refusal meant for the caller; raised as it is, it is a `BAD_REQUEST`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return answer_for(self).code

    @property
    def extensions(self) -> dict[str, str]:
        """What GraphQL sends as the error's `extensions` (graphql-core reads this)."""
        return {"code": self.code}

    @property
    def headers(self) -> dict[str, str]:
        """Extra HTTP headers for the answer."""
        return {}


class BadRequest(SightlineError):
    pass


class Unauthenticated(SightlineError):
    pass


class Forbidden(SightlineError):
    pass


class NotFound(SightlineError):
    """Also what a caller gets for another account's object: the two look the same."""


class MethodNotAllowed(SightlineError):
    pass


class PayloadTooLarge(SightlineError):
    pass


class TooManyAttempts(SightlineError):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"Too many attempts, retry after {retry_after_s} s.")
        self.retry_after_s = retry_after_s

    @property
    def extensions(self) -> dict[str, str]:
        return {"code": self.code, "retryAfter": str(self.retry_after_s)}

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class QueryTimeout(SightlineError):
    def __init__(
        self, message: str = "The query took too long; narrow the range or filters."
    ) -> None:
        super().__init__(message)


class QueryTooCostly(SightlineError):
    """The query's static cost estimate (`graph/cost.py`) is over the budget."""


class ServiceUnavailable(SightlineError):
    """MongoDB or Redis cannot be reached: nothing the caller did, and worth a retry."""

    RETRY_AFTER_S = 5

    def __init__(self, message: str = "Storage is unavailable; retry later.") -> None:
        super().__init__(message)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.RETRY_AFTER_S)}


@dataclass(frozen=True)
class Answer:
    code: str
    status: int


ANSWERS: dict[type[SightlineError], Answer] = {
    SightlineError: Answer("BAD_REQUEST", 400),
    BadRequest: Answer("BAD_REQUEST", 400),
    Unauthenticated: Answer("UNAUTHENTICATED", 401),
    Forbidden: Answer("FORBIDDEN", 403),
    NotFound: Answer("NOT_FOUND", 404),
    MethodNotAllowed: Answer("METHOD_NOT_ALLOWED", 405),
    PayloadTooLarge: Answer("PAYLOAD_TOO_LARGE", 413),
    TooManyAttempts: Answer("TOO_MANY_ATTEMPTS", 429),
    QueryTimeout: Answer("QUERY_TIMEOUT", 504),
    QueryTooCostly: Answer("QUERY_TOO_COSTLY", 400),
    ServiceUnavailable: Answer("SERVICE_UNAVAILABLE", 503),
}
INTERNAL = Answer("INTERNAL", 500)
INTERNAL_MESSAGE = "Unexpected error."

Translation = Callable[[], SightlineError]

# Checked in the order of the exception's own classes, so the most specific entry wins.
TRANSLATIONS: dict[type[Exception], Translation] = {
    redis_errors.ConnectionError: ServiceUnavailable,
    redis_errors.TimeoutError: ServiceUnavailable,
}


def register_translations(translations: Mapping[type[Exception], Translation]) -> None:
    """Add what a layer's own errors mean to a caller (storage's driver errors)."""
    TRANSLATIONS.update(translations)


def answer_for(error: BaseException) -> Answer:
    """The code and status for `error`: its nearest class in `ANSWERS`, else INTERNAL."""
    for cls in type(error).__mro__:
        if cls in ANSWERS:
            return ANSWERS[cls]
    return INTERNAL


def translated(error: BaseException) -> SightlineError | None:
    """`error` as the caller should see it, or None when it is a bug."""
    if isinstance(error, SightlineError):
        return error
    for cls in type(error).__mro__:
        if cls in TRANSLATIONS:
            return TRANSLATIONS[cls]()
    return None


_PLAIN = (BadRequest, Unauthenticated, Forbidden, NotFound, MethodNotAllowed, PayloadTooLarge)
_BY_STATUS = {ANSWERS[cls].status: cls for cls in _PLAIN}


def error_for_status(status: int, message: str) -> SightlineError:
    """The error a framework's bare HTTP status stands for (BAD_REQUEST if none)."""
    return _BY_STATUS.get(status, BadRequest)(message)
