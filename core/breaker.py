"""Skip a dependency for a while after it fails, instead of waiting on it every time."""

import time


class Breaker:
    def __init__(self, cool_down_s: float = 5.0) -> None:
        self._cool_down_s = cool_down_s
        self._open_until = 0.0

    @property
    def closed(self) -> bool:
        """True when calls should be attempted."""
        return time.monotonic() >= self._open_until

    def trip(self) -> None:
        self._open_until = time.monotonic() + self._cool_down_s

    def reset(self) -> None:
        self._open_until = 0.0
