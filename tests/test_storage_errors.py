"""The driver's errors still reach the one error boundary, now that only storage/ names them."""

import pytest
from pymongo import errors as driver

from api.errors import exception_handlers
from core.errors import QueryTimeout, ServiceUnavailable, SightlineError, translated


@pytest.mark.parametrize(
    ("error", "answer"),
    [
        (driver.ExecutionTimeout("operation exceeded time limit"), QueryTimeout),
        (driver.NetworkTimeout("timed out"), QueryTimeout),
        (driver.ServerSelectionTimeoutError("no servers"), ServiceUnavailable),
        (driver.AutoReconnect("connection reset"), ServiceUnavailable),
    ],
)
def test_the_boundary_still_translates_the_drivers_errors(
    error: Exception, answer: type[SightlineError]
) -> None:
    # core/ no longer names the driver: storage/ registers what its errors mean.
    assert isinstance(translated(error), answer)
    assert any(isinstance(error, cls) for cls in exception_handlers())
