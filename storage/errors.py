"""The driver's errors, as the rest of Sightline may name them.

Code outside `storage/` never imports the driver, so it catches these instead:
`STORAGE_ERRORS` for any failure of a storage call (a job that retries, a route
that answers 503), `STORAGE_TIMEOUTS` for a call stopped at its time budget, and
`STORAGE_UNAVAILABLE` for a server out of reach. `TRANSLATIONS` says what they
mean to a caller; `storage/__init__.py` registers it with the one error boundary
(`core.errors`), so no caller can reach storage without the boundary knowing them.
"""

from collections.abc import Callable

from pymongo import errors as driver

from core.errors import QueryTimeout, ServiceUnavailable, SightlineError

STORAGE_ERRORS: tuple[type[Exception], ...] = (driver.PyMongoError,)
STORAGE_TIMEOUTS: tuple[type[Exception], ...] = (driver.ExecutionTimeout, driver.NetworkTimeout)
STORAGE_UNAVAILABLE: tuple[type[Exception], ...] = (driver.ConnectionFailure,)

# A NetworkTimeout is a ConnectionFailure too, but it means the time budget ran out:
# the boundary walks the exception's own classes, so its nearer entry wins.
TRANSLATIONS: dict[type[Exception], Callable[[], SightlineError]] = {
    **dict.fromkeys(STORAGE_TIMEOUTS, QueryTimeout),
    **dict.fromkeys(STORAGE_UNAVAILABLE, ServiceUnavailable),
}
