"""The exact best-attempt search of `core.funnels`, for every unit at once, with numpy.

Events are given as one array sorted by unit, then in each unit's event order; a position
is an index into it. Per step, a mask says which events can play it and which exclude it.
The passes are those of `core.funnels._UnitSearch`, each done for all units together:

- forward: for each event that can play step j, the latest step 1 time of a valid path that
  ends on it (a range maximum over the previous step's reached events, between the lowest
  position the exclusions and the step's maximum time allow and the event itself);
- backward, per depth reached: for each event of step j, the earliest time a valid path from
  it reaches the depth (a range minimum over the next step's events);
- the path: the first step 1 event whose earliest end is within the window, then at each
  step the first event after the previous one whose earliest end meets the deadline.

Range queries use sparse tables (O(n log n) to build, O(1) per query) on the few events of
one step, so the cost follows the events that can play a step, not the whole site.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
LOW = np.iinfo(np.int64).min
HIGH = np.iinfo(np.int64).max
# Unit numbers and times share one sortable key: unit << 42 | time since the earliest.
_TIME_BITS = 42


@dataclass(frozen=True)
class Events:
    """The events of every unit: `times` (ms), `unit` (unit number, ascending), and per
    step the events that can play it (`plays`) and that exclude it (`excludes`)."""

    times: Ints
    unit: Ints
    plays: Sequence[Bools]
    excludes: Sequence[Bools]

    def __len__(self) -> int:
        return len(self.times)


@dataclass(frozen=True)
class Rules:
    window_ms: int
    max_ms: Sequence[int | None]


def _range(values: Ints, lo: Ints, hi: Ints, op: Callable[[Ints, Ints], Ints], empty: int) -> Ints:
    """op over values[lo[i]:hi[i]] for each i (`empty` where the slice is empty)."""
    found = np.full(len(lo), empty, dtype=np.int64)
    length = hi - lo
    live = length > 0
    if not live.any():
        return found
    levels = [values]
    while 2 ** len(levels) <= len(values):
        half = 2 ** (len(levels) - 1)
        levels.append(op(levels[-1][:-half], levels[-1][half:]))
    level = np.zeros(len(lo), dtype=np.int64)
    level[live] = np.floor(np.log2(length[live])).astype(np.int64)
    for number in np.unique(level[live]):
        chosen = np.flatnonzero(live & (level == number))
        table, size = levels[int(number)], 2 ** int(number)
        found[chosen] = op(table[lo[chosen]], table[hi[chosen] - size])
    return found


class Search:
    def __init__(self, events: Events, rules: Rules) -> None:
        """`events` must not be empty."""
        self.events, self.rules = events, rules
        n = len(events)
        self.positions = np.arange(n, dtype=np.int64)
        starts = np.flatnonzero(np.r_[True, events.unit[1:] != events.unit[:-1]])
        self.unit_ids = events.unit[starts]
        bounds = np.r_[starts, n].astype(np.int64)
        # Per event: its unit's number in order of appearance, and that unit's bounds.
        self.local = np.repeat(np.arange(len(starts), dtype=np.int64), np.diff(bounds))
        self.first = bounds[:-1][self.local]
        self.last = bounds[1:][self.local] - 1
        self.keys = (self.local << _TIME_BITS) | (events.times - events.times.min())

    @property
    def unit_count(self) -> int:
        return len(self.unit_ids)

    def _last_exclusion_before(self, step: int, at: Ints) -> Ints:
        marks = np.where(self.events.excludes[step], self.positions, -1)
        running = np.maximum.accumulate(marks)
        return np.where(at > 0, running[np.maximum(at - 1, 0)], -1)

    def _first_exclusion_after(self, step: int, at: Ints) -> Ints:
        n = len(self.events)
        marks = np.where(self.events.excludes[step], self.positions, n)
        running = np.minimum.accumulate(marks[::-1])[::-1]
        return np.where(at + 1 < n, running[np.minimum(at + 1, n - 1)], n)

    def _lowest_previous(self, step: int, at: Ints) -> Ints:
        """The first position step `step - 1` may have for step `step` at `at`."""
        lowest: Ints = self.first[at]
        if self.events.excludes[step].any():
            lowest = np.maximum(lowest, self._last_exclusion_before(step, at))
        max_ms = self.rules.max_ms[step]
        if max_ms is not None:
            bound = np.searchsorted(self.keys, self.keys[at] - max_ms, side="left")
            lowest = np.maximum(lowest, bound)
        return lowest

    def _highest_next(self, step: int, at: Ints) -> Ints:
        """The last position step `step` may have after step `step - 1` at `at`."""
        highest: Ints = self.last[at]
        if self.events.excludes[step].any():
            highest = np.minimum(highest, self._first_exclusion_after(step, at))
        max_ms = self.rules.max_ms[step]
        if max_ms is not None:
            bound = np.searchsorted(self.keys, self.keys[at] + max_ms, side="right") - 1
            highest = np.minimum(highest, bound)
        return highest

    def depths(self) -> Ints:
        """Per unit (by number of appearance), how many steps its best attempt reaches."""
        times = self.events.times
        depth = np.zeros(self.unit_count, dtype=np.int64)
        reached = np.flatnonzero(self.events.plays[0])
        starts = times[reached]
        for step in range(len(self.events.plays)):
            if step:
                reached, starts = self._advance(step, reached, starts)
            depth[self.local[reached]] = step + 1
        return depth

    def _advance(self, step: int, sources: Ints, starts: Ints) -> tuple[Ints, Ints]:
        times = self.events.times
        targets = np.flatnonzero(self.events.plays[step])
        lo = np.searchsorted(sources, self._lowest_previous(step, targets), side="left")
        hi = np.searchsorted(sources, targets, side="left")
        latest = _range(starts, lo, hi, np.maximum, LOW)
        ok = (latest != LOW) & (times[targets] - latest <= self.rules.window_ms)
        return targets[ok], latest[ok]

    def paths(self) -> tuple[Ints, Ints]:
        """Per unit, its depth and the positions of its best attempt's events (-1 beyond)."""
        depth = self.depths()
        steps = len(self.events.plays)
        path = np.full((self.unit_count, steps), -1, dtype=np.int64)
        for reached in range(1, steps + 1):
            units = depth == reached
            if units.any():
                self._fill(path, reached, units[self.local])
        return depth, path

    def _fill(self, path: Ints, depth: int, mine: Bools) -> None:
        """The paths of the units (events `mine`) whose best attempt reaches `depth`."""
        times, window = self.events.times, self.rules.window_ms
        ends: list[tuple[Ints, Ints]] = [(np.zeros(0, np.int64), np.zeros(0, np.int64))] * depth
        last = np.flatnonzero(self.events.plays[depth - 1] & mine)
        ends[depth - 1] = (last, times[last])
        for step in range(depth - 2, -1, -1):
            ends[step] = self._retreat(step, mine, *ends[step + 1])
        firsts = ends[0][0]  # each already within the window of its own time
        units, where = np.unique(self.local[firsts], return_index=True)
        current = firsts[where]
        path[units, 0] = current
        deadline = times[current] + window
        for step in range(1, depth):
            positions, earliest = ends[step]
            unit_deadline = np.full(self.unit_count, LOW, dtype=np.int64)
            unit_deadline[units] = deadline
            fits = positions[earliest <= unit_deadline[self.local[positions]]]
            current = fits[np.searchsorted(fits, current, side="right")]
            path[units, step] = current

    def _retreat(
        self, step: int, mine: Bools, following: Ints, following_ends: Ints
    ) -> tuple[Ints, Ints]:
        times = self.events.times
        sources = np.flatnonzero(self.events.plays[step] & mine)
        lo = np.searchsorted(following, sources, side="right")
        hi = np.searchsorted(following, self._highest_next(step + 1, sources), side="right")
        earliest = _range(following_ends, lo, hi, np.minimum, HIGH)
        ok = (earliest != HIGH) & (earliest - times[sources] <= self.rules.window_ms)
        return sources[ok], earliest[ok]
