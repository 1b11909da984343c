"""Rage, dead and error clicks, decided from the clicks and the events that follow them.

Every signal is a copy of the click it comes from (rage: the first click of the burst) with
its kind, `signals_version` and the click's ordinal, so its key is as stable as the click's.
Times are the events' timestamps; `now` is the latest timestamp seen.

Rage clicks (posthog-js's rule): consecutive clicks, each closer than `rage_click_radius_px`
to the previous one in Manhattan distance (client coordinates, so scrolling between clicks
does not separate them), the last less than `rage_click_window_ms` after the first. A burst
of at least `rage_click_count` clicks gives one rage click with `count`; it is final once a
click does not extend it or the window has passed.

Dead clicks: an eligible click followed by no DOM mutation, Input event, page load or
navigation within `dead_click_mutation_ms`, and by no scroll or selection change within
`dead_click_scroll_ms` (bounds inclusive). Decided once an event later than both windows has
been seen, or at the end of a final stream: a click on a link whose window the data does not
cover is then not dead, as the page most likely unloaded. A click repeating the previous
click on the same element within `rage_click_window_ms` is not judged again, so hammering a
dead element gives one dead click next to its rage click.

Error clicks: a `sightline.error` at most `error_click_ms` after a click is blamed on the
latest click before it (not on every click in the window); one error click per click, final
as soon as the error is seen.
"""

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from core.derived_events import DerivedEvent, Kind
from core.signal_settings import SignalSettings


def _signal(
    click: DerivedEvent, kind: Kind, version: int, count: int | None = None
) -> DerivedEvent:
    return replace(click, kind=kind, signals_version=version, count=count)


@dataclass(slots=True)
class _Burst:
    first: DerivedEvent
    x: float
    y: float
    count: int = 1


class RageClicks:
    def __init__(self, settings: SignalSettings) -> None:
        self._settings = settings
        self._burst: _Burst | None = None

    def add(self, click: DerivedEvent, client: tuple[float, float] | None) -> DerivedEvent | None:
        """Count a click at client position `client`; the burst it ended, if a rage click."""
        burst = self._burst
        if burst is not None and client is not None and self._extends(burst, click, client):
            burst.x, burst.y = client
            burst.count += 1
            return None
        ended = self.close()
        if client is not None:
            self._burst = _Burst(click, *client)
        return ended

    def expire(self, now: int) -> DerivedEvent | None:
        """End the burst when no later click can join it any more."""
        burst = self._burst
        if burst is not None and now - burst.first.timestamp >= self._settings.rage_click_window_ms:
            return self.close()
        return None

    def close(self) -> DerivedEvent | None:
        ended, self._burst = self.peek(), None
        return ended

    def peek(self) -> DerivedEvent | None:
        """The rage click the current burst makes so far, if it is one."""
        burst = self._burst
        if burst is None or burst.count < self._settings.rage_click_count:
            return None
        return _signal(burst.first, Kind.RAGE_CLICK, self._settings.version, burst.count)

    def _extends(self, burst: _Burst, click: DerivedEvent, client: tuple[float, float]) -> bool:
        elapsed = click.timestamp - burst.first.timestamp
        distance = abs(client[0] - burst.x) + abs(client[1] - burst.y)
        return (
            0 <= elapsed < self._settings.rage_click_window_ms
            and distance < self._settings.rage_click_radius_px
        )


@dataclass(slots=True)
class _Pending:
    click: DerivedEvent
    on_link: bool
    answered: bool = False


class DeadClicks:
    def __init__(self, settings: SignalSettings) -> None:
        self._settings = settings
        self._window = max(settings.dead_click_mutation_ms, settings.dead_click_scroll_ms)
        self._pending: deque[_Pending] = deque()
        self._previous: tuple[int | None, int] | None = None

    def add(self, click: DerivedEvent, node_id: int | None, eligible: bool) -> None:
        """Follow a click on `node_id`; only an eligible one can be dead."""
        previous, self._previous = self._previous, (node_id, click.timestamp)
        if not eligible or self._repeats(previous, node_id, click.timestamp):
            return
        self._pending.append(_Pending(click, on_link=click.href is not None))

    def feedback(self, at: int) -> None:
        """A mutation, input, page load or navigation at `at`."""
        limit = self._settings.dead_click_mutation_ms
        self._answer(lambda click: 0 <= at - click.timestamp <= limit)

    def quick_feedback(self, at: int) -> None:
        """A scroll or selection change at `at`."""
        limit = self._settings.dead_click_scroll_ms
        self._answer(lambda click: 0 <= at - click.timestamp <= limit)

    def expire(self, now: int) -> list[DerivedEvent]:
        """Dead clicks among those whose windows `now` has passed."""
        dead = []
        while self._pending and now - self._pending[0].click.timestamp > self._window:
            pending = self._pending.popleft()
            if not pending.answered:
                dead.append(self._dead(pending.click))
        return dead

    def close(self) -> list[DerivedEvent]:
        """At the end of a final stream: the clicks still waiting, decided with what was seen."""
        pending, self._pending = self._pending, deque()
        return [self._dead(p.click) for p in pending if not (p.answered or p.on_link)]

    def _repeats(
        self, previous: tuple[int | None, int] | None, node_id: int | None, at: int
    ) -> bool:
        if previous is None or node_id is None or previous[0] != node_id:
            return False
        return 0 <= at - previous[1] < self._settings.rage_click_window_ms

    def _answer(self, within: Callable[[DerivedEvent], bool]) -> None:
        answered = False
        for pending in self._pending:
            if not pending.answered and within(pending.click):
                pending.answered = answered = True
        if answered:
            self._pending = deque(p for p in self._pending if not p.answered)

    def _dead(self, click: DerivedEvent) -> DerivedEvent:
        return _signal(click, Kind.DEAD_CLICK, self._settings.version)


class ErrorClicks:
    def __init__(self, settings: SignalSettings) -> None:
        self._settings = settings
        self._latest: DerivedEvent | None = None
        self._blamed = False

    def add(self, click: DerivedEvent) -> None:
        self._latest, self._blamed = click, False

    def error(self, at: int) -> DerivedEvent | None:
        """The error click an error at `at` makes, if any."""
        click = self._latest
        if click is None or self._blamed:
            return None
        if not 0 <= at - click.timestamp <= self._settings.error_click_ms:
            return None
        self._blamed = True
        return _signal(click, Kind.ERROR_CLICK, self._settings.version)

    def forget(self) -> None:
        """A new page: errors there are not caused by clicks on the previous one."""
        self._latest = None
