"""Errors a client is meant to read, under the names GraphQL code has always used.

They are the classes of `core.errors` (the one error tree and its table of codes
and statuses): a resolver raises a `UserError` (or a subclass) for anything the
caller can fix; its message and code reach the client. Every other exception is
masked to "Unexpected error." with code `INTERNAL` (`graph.error_boundary`).
"""

from core.errors import BadRequest as BadRequest
from core.errors import Forbidden as ForbiddenError
from core.errors import NotFound as NotFoundError
from core.errors import QueryTimeout as QueryTimeoutError
from core.errors import QueryTooCostly as QueryTooCostlyError
from core.errors import ServiceUnavailable as ServiceUnavailableError
from core.errors import SightlineError as UserError
from core.errors import TooManyAttempts as TooManyAttemptsError
from core.errors import Unauthenticated as AuthenticationError

__all__ = [
    "AuthenticationError",
    "BadRequest",
    "ForbiddenError",
    "NotFoundError",
    "QueryTimeoutError",
    "QueryTooCostlyError",
    "ServiceUnavailableError",
    "TooManyAttemptsError",
    "UserError",
]
