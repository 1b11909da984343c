"""Conversion funnels over autotracked events. Pure Python: no I/O, no database, no async.

A funnel is an ordered list of 2 to 20 steps. Each step names an event type (`page_view`,
`click`, `input`, `submit`, `custom`, `error`) and, optionally, conditions every one of which
the event must meet: its `url` or `path` equals, contains or matches a regular expression
(a search in RE2's syntax, in linear time: see `core.patterns`); its element matches a CSS
selector (`core.elements`: `button.add`, `#buy`, `form > button`; or, with `selector_match`
EXACT, its stored `selector` equals the given string); its `text` contains a given string
(case-insensitive); its custom event `name` equals a given name. A condition on a field the
event does not have never matches. The rage, dead and error click signals are not step types:
the clicks they come from are stored as `click` events too.

Who is counted. The unit is a session or a visitor, chosen by the caller: with sessions, each
session is counted on its own; with visitors, all the events of one visitor across all their
sessions form one unit, so a visitor who adds to cart in one session and pays in the next
converts, and a visitor with many sessions counts once. The same events therefore give
different numbers per unit. Every unit is counted at most once per step.

Order. Steps must happen in order: a unit that did step 2 before step 1 has not reached step 2.
Each step's event must come at or after the previous step's event: the same millisecond counts.
A unit's events are ordered by time, events of the same millisecond keeping the order they were
given in, and one event never counts for two steps (two identical steps in a row need two
events).

Conversion window. Every step reached must happen within the conversion window (24 hours by
default, at most 90 days) of the unit's step 1 event: exactly at the limit is in time, one
millisecond later is not. A step can also set a maximum time from the previous step; exactly at
that maximum is in time. Times are compared in whole milliseconds (rounded to the nearest).

Exclusions. A step (not step 1) can list events that must not happen between the previous step
and it: if such an event comes after the previous step's event and before this step's event,
that way through the funnel stops at the previous step (another way, say a later attempt, may
still convert). The events chosen for the steps themselves are never between, and an excluded
event at the same millisecond as a step's event counts as between only if it comes between them
in the unit's event order.

Repeated steps and the best attempt. Each step 1 event starts a new attempt. A unit is counted
once, with its best attempt: the one that reaches the furthest step; between attempts that
reach equally far, the earliest. The search is exact: every possible choice of events is
considered, so a unit converts whenever any choice of events meets the order, the window, the
per-step maximums and the exclusions, even when taking the earliest event at each step would
not (say, the first "add to cart" is more than the allowed time before checkout but a later one
is not). When a step happened several times, the earliest event that still lets the attempt
reach its furthest step is used, and the times between steps are measured on those events.

Numbers per step. `entered`: units that reached the step. `conversion_from_first`: entered
divided by the units that reached step 1 (step 1 itself is 1.0, or 0.0 when nobody entered).
`conversion_from_previous`: entered divided by the units that reached the previous step (for
step 1, the same as from first). `dropped`: units that reached the previous step but not this
one. Median and 90th percentile of the time from the previous step, over the units that reached
the step, with linear interpolation between the two nearest values (numpy's default "linear"
method); none for step 1 or when nobody reached the step. Drop-off lists name the units that
reached the previous step but not this one, with the session of their last step reached (for
visitors, the session where they stopped, so it can be watched), ordered by the time of that
last step, then unit id, and capped at `drop_off_sample` units. A breakdown repeats the
per-step numbers for each value of the unit's breakdown (units without one go under "(none)",
and values come sorted); breakdowns carry no drop-off lists. `total_units` counts every unit
with at least one event, whether it entered the funnel or not.

Events whose `at` is not a datetime are ignored (naive datetimes are taken as UTC); other
missing or malformed fields only make conditions on them fail.
"""

from array import array
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, TypeGuard

from core.elements import ElementSelector, SelectorMatch
from core.epoch import DAY_MS, epoch_ms, from_epoch_ms
from core.patterns import MAX_PATTERN_LENGTH, PatternError, compile_pattern
from core.rrweb.selectors import SelectorError

MIN_STEPS = 2
MAX_STEPS = 20
DEFAULT_WINDOW_MS = DAY_MS
MAX_WINDOW_MS = 90 * DAY_MS
MAX_REGEX_LENGTH = MAX_PATTERN_LENGTH
MAX_VALUE_LENGTH = 1000
MAX_LABEL_LENGTH = 200
MAX_EXCLUSIONS = 10
NO_BREAKDOWN = "(none)"


class FunnelError(ValueError):
    """A funnel definition that cannot be used; the message names the step and the problem."""


class EventType(StrEnum):
    PAGE_VIEW = "page_view"
    CLICK = "click"
    INPUT = "input"
    SUBMIT = "submit"
    CUSTOM = "custom"
    ERROR = "error"


class MatchOp(StrEnum):
    EQUALS = "equals"
    CONTAINS = "contains"
    REGEX = "regex"


class Unit(StrEnum):
    """What one `UnitEvents` holds: one session's events, or one visitor's across sessions."""

    SESSIONS = "sessions"
    VISITORS = "visitors"


@dataclass(frozen=True)
class UrlMatcher:
    field: Literal["url", "path"]
    op: MatchOp
    value: str


@dataclass(frozen=True)
class StepMatcher:
    """Conditions on an event; every one given must match."""

    url: UrlMatcher | None = None
    selector: str | None = None
    text_contains: str | None = None
    name: str | None = None
    selector_match: SelectorMatch = SelectorMatch.CSS


@dataclass(frozen=True)
class Exclusion:
    """An event that must not happen between the previous step and the step that lists it."""

    type: EventType
    matcher: StepMatcher


@dataclass(frozen=True)
class Step:
    type: EventType
    matcher: StepMatcher = StepMatcher()
    label: str | None = None
    max_ms_from_previous: int | None = None
    exclusions: tuple[Exclusion, ...] = ()


@dataclass(frozen=True)
class FunnelDefinition:
    steps: tuple[Step, ...]
    conversion_window_ms: int = DEFAULT_WINDOW_MS

    def validate(self) -> "FunnelDefinition":
        """This definition, or FunnelError naming the first problem found."""
        _check_step_count(self.steps)
        _check_window(self.conversion_window_ms)
        for number, step in enumerate(self.steps, start=1):
            _check_step(number, step)
        return self


@dataclass(frozen=True)
class UnitEvents:
    """One unit's events in time order. `session_id` is used for events without their own."""

    unit_id: str
    session_id: str
    breakdown: str | None
    events: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class DroppedUnit:
    unit_id: str
    session_id: str
    last_step_at: datetime


@dataclass(frozen=True)
class StepResult:
    index: int
    label: str
    entered: int
    conversion_from_first: float
    conversion_from_previous: float
    dropped: int
    median_ms_from_previous: float | None
    p90_ms_from_previous: float | None
    dropped_units: list[DroppedUnit]


@dataclass(frozen=True)
class FunnelResult:
    steps: list[StepResult]
    total_units: int
    breakdown: dict[str, list[StepResult]]


# Validation.


def _check_step_count(steps: object) -> None:
    if not isinstance(steps, tuple | list):
        raise FunnelError("steps must be a tuple of Step")
    if len(steps) < MIN_STEPS:
        raise FunnelError(f"a funnel needs at least {MIN_STEPS} steps, got {len(steps)}")
    if len(steps) > MAX_STEPS:
        raise FunnelError(f"a funnel has at most {MAX_STEPS} steps, got {len(steps)}")


def _check_window(window_ms: object) -> None:
    if not _is_int(window_ms) or not 1 <= window_ms <= MAX_WINDOW_MS:
        raise FunnelError(
            f"conversion window must be between 1 ms and 90 days ({MAX_WINDOW_MS} ms), "
            f"got {window_ms!r}"
        )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_step(number: int, step: object) -> None:
    where = f"step {number}"
    if not isinstance(step, Step):
        raise FunnelError(f"{where}: expected a Step, got {type(step).__name__}")
    _check_type(where, step.type)
    _check_matcher(where, step.matcher)
    if step.label is not None:
        _check_text(where, "label", step.label, MAX_LABEL_LENGTH)
    _check_max_ms(number, step.max_ms_from_previous)
    _check_exclusions(number, step.exclusions)


def _check_type(where: str, value: object) -> None:
    if value not in list(EventType):
        known = ", ".join(EventType)
        raise FunnelError(f"{where}: unknown event type {value!r}; expected one of {known}")


def _check_max_ms(number: int, max_ms: object) -> None:
    if max_ms is None:
        return
    if number == 1:
        raise FunnelError(
            "step 1: max_ms_from_previous is not allowed, step 1 has no previous step"
        )
    if not _is_int(max_ms) or not 1 <= max_ms <= MAX_WINDOW_MS:
        raise FunnelError(
            f"step {number}: max_ms_from_previous must be between 1 ms and 90 days "
            f"({MAX_WINDOW_MS} ms), got {max_ms!r}"
        )


def _check_exclusions(number: int, exclusions: object) -> None:
    if not isinstance(exclusions, tuple | list):
        raise FunnelError(f"step {number}: exclusions must be a tuple of Exclusion")
    if exclusions and number == 1:
        raise FunnelError("step 1: exclusions are not allowed, step 1 has no previous step")
    if len(exclusions) > MAX_EXCLUSIONS:
        raise FunnelError(
            f"step {number}: at most {MAX_EXCLUSIONS} exclusions, got {len(exclusions)}"
        )
    for position, exclusion in enumerate(exclusions, start=1):
        where = f"step {number} exclusion {position}"
        if not isinstance(exclusion, Exclusion):
            raise FunnelError(f"{where}: expected an Exclusion, got {type(exclusion).__name__}")
        _check_type(where, exclusion.type)
        _check_matcher(where, exclusion.matcher)


def _check_matcher(where: str, matcher: object) -> None:
    if not isinstance(matcher, StepMatcher):
        raise FunnelError(f"{where}: expected a StepMatcher, got {type(matcher).__name__}")
    if matcher.url is not None:
        _check_url(where, matcher.url)
    for name in ("selector", "text_contains", "name"):
        value = getattr(matcher, name)
        if value is not None:
            _check_text(where, name, value, MAX_VALUE_LENGTH)
    if matcher.selector is not None:
        _selector(where, matcher)


def _selector(where: str, matcher: StepMatcher) -> ElementSelector:
    if matcher.selector_match not in list(SelectorMatch):
        known = ", ".join(SelectorMatch)
        raise FunnelError(
            f"{where}: unknown selector match {matcher.selector_match!r}; expected one of {known}"
        )
    try:
        return ElementSelector.parse(str(matcher.selector), SelectorMatch(matcher.selector_match))
    except SelectorError as exc:
        raise FunnelError(f"{where}: {exc}") from None


def _check_url(where: str, url: object) -> None:
    if not isinstance(url, UrlMatcher):
        raise FunnelError(f"{where}: url must be a UrlMatcher, got {type(url).__name__}")
    if url.field not in ("url", "path"):
        raise FunnelError(f"{where}: url field must be 'url' or 'path', got {url.field!r}")
    if url.op not in list(MatchOp):
        known = ", ".join(MatchOp)
        raise FunnelError(f"{where}: unknown {url.field} match {url.op!r}; expected one of {known}")
    if url.op != MatchOp.REGEX:
        _check_text(where, f"{url.field} value", url.value, MAX_VALUE_LENGTH)
        return
    _check_text(where, f"{url.field} regex", url.value, MAX_REGEX_LENGTH)
    _compiled(url, where)


def _compiled(url: UrlMatcher, where: str) -> Callable[[str], bool]:
    try:
        return compile_pattern(url.value).search
    except PatternError as exc:
        raise FunnelError(f"{where}: {url.field} regex {url.value!r} is invalid: {exc}") from None


def _check_text(where: str, what: str, value: object, limit: int) -> None:
    if not isinstance(value, str):
        raise FunnelError(f"{where}: {what} must be a string, got {type(value).__name__}")
    if not value:
        raise FunnelError(f"{where}: {what} must not be empty")
    if len(value) > limit:
        raise FunnelError(f"{where}: {what} is too long ({len(value)} characters, at most {limit})")


# Matching one event.


def _string(event: Mapping[str, Any], key: str) -> str | None:
    value = event.get(key)
    return value if isinstance(value, str) else None


def _url_test(url: UrlMatcher) -> Callable[[str], bool]:
    value = url.value
    if url.op == MatchOp.EQUALS:
        return lambda candidate: candidate == value
    if url.op == MatchOp.CONTAINS:
        return lambda candidate: value in candidate
    return _compiled(url, "funnel")


@dataclass(frozen=True, slots=True)
class _Matcher:
    url_field: str | None
    url_test: Callable[[str], bool] | None
    selector: ElementSelector | None
    text: str | None
    name: str | None

    @classmethod
    def of(cls, matcher: StepMatcher) -> "_Matcher":
        url = matcher.url
        text = matcher.text_contains
        return cls(
            url_field=url.field if url is not None else None,
            url_test=_url_test(url) if url is not None else None,
            selector=None if matcher.selector is None else _selector("", matcher),
            text=text.casefold() if text is not None else None,
            name=matcher.name,
        )

    def matches(self, event: Mapping[str, Any]) -> bool:
        return (
            self._url_matches(event)
            and (self.selector is None or self.selector.matches(event))
            and self._text_matches(event)
            and _equal_if_given(self.name, _string(event, "name"))
        )

    def _url_matches(self, event: Mapping[str, Any]) -> bool:
        if self.url_field is None or self.url_test is None:
            return True
        value = _string(event, self.url_field)
        return value is not None and self.url_test(value)

    def _text_matches(self, event: Mapping[str, Any]) -> bool:
        if self.text is None:
            return True
        value = _string(event, "text")
        return value is not None and self.text in value.casefold()


def _equal_if_given(expected: str | None, value: str | None) -> bool:
    return expected is None or value == expected


def _default_label(step: Step) -> str:
    matcher = step.matcher
    parts = []
    if matcher.url is not None:
        parts.append(f"{matcher.url.field} {matcher.url.op} {matcher.url.value!r}")
    if matcher.selector is not None:
        exactly = " exactly" if matcher.selector_match == SelectorMatch.EXACT else ""
        parts.append(f"selector{exactly} {matcher.selector!r}")
    if matcher.text_contains is not None:
        parts.append(f"text contains {matcher.text_contains!r}")
    if matcher.name is not None:
        parts.append(f"name {matcher.name!r}")
    kind = str(step.type)
    return f"{kind} where {' and '.join(parts)}" if parts else kind


@dataclass(frozen=True, slots=True)
class _Check:
    """One distinct condition of a funnel, and the steps it plays or guards."""

    matcher: _Matcher
    steps: tuple[int, ...]
    exclusions: tuple[int, ...]


def _checks_by_kind(definition: FunnelDefinition) -> dict[str, tuple[_Check, ...]]:
    """Equal conditions grouped, so each is tested once per event."""
    uses: dict[tuple[str, StepMatcher], tuple[list[int], list[int]]] = {}
    for index, step in enumerate(definition.steps):
        uses.setdefault((str(step.type), step.matcher), ([], []))[0].append(index)
        for exclusion in step.exclusions:
            uses.setdefault((str(exclusion.type), exclusion.matcher), ([], []))[1].append(index)
    checks: dict[str, list[_Check]] = {}
    for (kind, matcher), (steps, exclusions) in uses.items():
        check = _Check(_Matcher.of(matcher), tuple(steps), tuple(exclusions))
        checks.setdefault(kind, []).append(check)
    return {kind: tuple(found) for kind, found in checks.items()}


@dataclass(frozen=True, slots=True)
class _Funnel:
    """A validated definition, with its patterns compiled and its conditions indexed by kind."""

    window_ms: int
    max_ms: tuple[int | None, ...]
    labels: tuple[str, ...]
    checks_by_kind: dict[str, tuple[_Check, ...]]

    @classmethod
    def of(cls, definition: FunnelDefinition) -> "_Funnel":
        definition.validate()
        return cls(
            window_ms=definition.conversion_window_ms,
            max_ms=tuple(step.max_ms_from_previous for step in definition.steps),
            labels=tuple(step.label or _default_label(step) for step in definition.steps),
            checks_by_kind=_checks_by_kind(definition),
        )

    @property
    def size(self) -> int:
        return len(self.max_ms)


# One unit: the exact search for its best attempt.


@dataclass(frozen=True, slots=True)
class _Timed:
    ms: int
    at: datetime
    index: int
    event: Mapping[str, Any]


def _timed(index: int, event: object) -> _Timed | None:
    if not isinstance(event, Mapping):
        return None
    at = event.get("at")
    if not isinstance(at, datetime):
        return None
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return _Timed(ms=epoch_ms(at), at=at, index=index, event=event)


def _window_max(
    sources: Sequence[tuple[int, int]], queries: Iterator[tuple[int, int]]
) -> list[int | None]:
    """For each query (lo, hi), the largest value of the sources whose key is in [lo, hi].

    Sources are sorted by key; both bounds never decrease from one query to the next, so a
    monotonic queue answers every query in amortized constant time.
    """
    best: deque[tuple[int, int]] = deque()
    answers: list[int | None] = []
    taken = 0
    for lo, hi in queries:
        while taken < len(sources) and sources[taken][0] <= hi:
            while best and best[-1][1] <= sources[taken][1]:
                best.pop()
            best.append(sources[taken])
            taken += 1
        while best and best[0][0] < lo:
            best.popleft()
        answers.append(best[0][1] if best else None)
    return answers


def _classify(
    funnel: _Funnel,
    position: int,
    event: Mapping[str, Any],
    candidates: list[list[int]],
    exclusions: list[list[int]],
) -> None:
    """Adds the event at `position` to the steps it can play and the exclusions it is."""
    kind = _string(event, "kind")
    if kind is None:
        return
    for check in funnel.checks_by_kind.get(kind, ()):
        if not check.matcher.matches(event):
            continue
        for index in check.steps:
            candidates[index].append(position)
        for index in check.exclusions:
            found = exclusions[index]
            if not found or found[-1] != position:
                found.append(position)


class _UnitSearch:
    """The events of one unit that can play each step, and the exact search over them.

    Positions index the unit's events sorted by time (stable). Going from step j-1 at
    position p to step j at position q is allowed when p < q, the time between them is at
    most step j's maximum, and no exclusion of step j lies at a position strictly between.
    """

    def __init__(
        self,
        funnel: _Funnel,
        times: Sequence[int],
        candidates: list[list[int]],
        exclusions: list[list[int]],
    ) -> None:
        self.funnel = funnel
        self.times = times
        self.candidates = candidates
        self.exclusions = exclusions

    @classmethod
    def of_events(
        cls, funnel: _Funnel, events: Sequence[Mapping[str, Any]]
    ) -> tuple["_UnitSearch", list[_Timed]]:
        """The search over a unit's events, and those events sorted by time (stable)."""
        timed = sorted(
            (item for item in map(_timed, range(len(events)), events) if item is not None),
            key=lambda item: item.ms,
        )
        candidates: list[list[int]] = [[] for _ in range(funnel.size)]
        exclusions: list[list[int]] = [[] for _ in range(funnel.size)]
        for position, item in enumerate(timed):
            _classify(funnel, position, item.event, candidates, exclusions)
        return cls(funnel, [item.ms for item in timed], candidates, exclusions), timed

    def _earliest_previous(self, step: int, position: int) -> int:
        """The first position the previous step's event may have for step `step` at `position`."""
        lowest = 0
        excluded = self.exclusions[step]
        before = bisect_left(excluded, position)
        if before:
            lowest = excluded[before - 1]
        max_ms = self.funnel.max_ms[step]
        if max_ms is not None:
            lowest = max(lowest, bisect_left(self.times, self.times[position] - max_ms))
        return lowest

    def _latest_next(self, step: int, position: int) -> int:
        """The last position step `step` may have after the previous step at `position`."""
        highest = len(self.times) - 1
        excluded = self.exclusions[step]
        after = bisect_right(excluded, position)
        if after < len(excluded):
            highest = excluded[after]
        max_ms = self.funnel.max_ms[step]
        if max_ms is not None:
            highest = min(highest, bisect_right(self.times, self.times[position] + max_ms) - 1)
        return highest

    def furthest(self) -> int:
        """How many steps the best attempt reaches (forward pass: latest start per event)."""
        reached = [(position, self.times[position]) for position in self.candidates[0]]
        depth = 0
        step = 0
        while reached:
            depth = step + 1
            step += 1
            if step == self.funnel.size:
                break
            reached = self._advance(step, reached)
        return depth

    def _advance(self, step: int, reached: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """From (position, latest start) of the previous step to the same for `step`."""
        positions = self.candidates[step]
        queries = ((self._earliest_previous(step, q), q - 1) for q in positions)
        starts = _window_max(reached, queries)
        window = self.funnel.window_ms
        return [
            (position, start)
            for position, start in zip(positions, starts, strict=True)
            if start is not None and self.times[position] - start <= window
        ]

    def _earliest_ends(self, depth: int) -> list[dict[int, int]]:
        """Per step and event, the earliest time a valid path from it can reach step `depth`."""
        ends: list[dict[int, int]] = [{} for _ in range(depth)]
        ends[depth - 1] = {
            position: self.times[position] for position in self.candidates[depth - 1]
        }
        for step in range(depth - 2, -1, -1):
            ends[step] = self._retreat(step, ends[step + 1])
        return ends

    def _retreat(self, step: int, following: dict[int, int]) -> dict[int, int]:
        """The backward pass, on negated positions and times so the search is a maximum."""
        sources = [
            (-q, -following[q]) for q in reversed(self.candidates[step + 1]) if q in following
        ]
        positions = self.candidates[step][::-1]
        queries = ((-self._latest_next(step + 1, p), -(p + 1)) for p in positions)
        ends = _window_max(sources, queries)
        window = self.funnel.window_ms
        return {
            position: -end
            for position, end in zip(positions, ends, strict=True)
            if end is not None and -end - self.times[position] <= window
        }

    def best_path(self) -> list[int]:
        """Positions of the best attempt's events, one per step reached (see the module
        docstring)."""
        depth = self.furthest()
        if depth == 0:
            return []
        ends = self._earliest_ends(depth)
        window = self.funnel.window_ms
        first = ends[0]
        start = next(
            p for p in self.candidates[0] if p in first and first[p] - self.times[p] <= window
        )
        deadline = self.times[start] + window
        path = [start]
        for step in range(1, depth):
            path.append(self._first_fit(step, path[-1], ends[step], deadline))
        return path

    def _first_fit(self, step: int, previous: int, ends: dict[int, int], deadline: int) -> int:
        """The earliest event for `step` after `previous` that still reaches the depth in time."""
        positions = self.candidates[step]
        highest = self._latest_next(step, previous)
        for position in positions[bisect_right(positions, previous) :]:
            if position > highest:
                break
            if ends.get(position, deadline + 1) <= deadline:
                return position
        raise AssertionError("the backward pass promised a continuation")  # pragma: no cover


def best_attempt(
    definition: FunnelDefinition, events: Sequence[Mapping[str, Any]]
) -> tuple[int, ...]:
    """Indexes into `events` of the events the unit's best attempt uses, one per step reached
    (empty when step 1 never happened). Raises FunnelError for an invalid definition."""
    search, timed = _UnitSearch.of_events(_Funnel.of(definition), events)
    return tuple(timed[position].index for position in search.best_path())


# Accumulating units.


def _percentile(ordered: Sequence[int], share: float) -> float | None:
    """numpy's default ("linear") percentile of sorted values; None when there are none."""
    if not ordered:
        return None
    rank = (len(ordered) - 1) * share
    below = int(rank)
    if below + 1 >= len(ordered):
        return float(ordered[below])
    return ordered[below] + (ordered[below + 1] - ordered[below]) * (rank - below)


class _Tally:
    """Per step: how many units entered, and the times from the previous step."""

    def __init__(self, size: int) -> None:
        self.entered = [0] * size
        self.gaps = [array("q") for _ in range(size)]

    def record(self, path: list[int]) -> None:
        """Counts an attempt given as the times (ms) of its steps' events."""
        for step, ms in enumerate(path):
            self.entered[step] += 1
            if step:
                self.gaps[step].append(ms - path[step - 1])

    def results(
        self, labels: tuple[str, ...], dropped_units: list[list[DroppedUnit]] | None = None
    ) -> list[StepResult]:
        return [
            self._result(step, labels[step], dropped_units[step] if dropped_units else [])
            for step in range(len(labels))
        ]

    def _result(self, step: int, label: str, dropped_units: list[DroppedUnit]) -> StepResult:
        entered = self.entered[step]
        first = self.entered[0]
        previous = self.entered[step - 1] if step else first
        gaps = sorted(self.gaps[step])
        return StepResult(
            index=step + 1,
            label=label,
            entered=entered,
            conversion_from_first=entered / first if first else 0.0,
            conversion_from_previous=entered / previous if previous else 0.0,
            dropped=previous - entered if step else 0,
            median_ms_from_previous=_percentile(gaps, 0.5),
            p90_ms_from_previous=_percentile(gaps, 0.9),
            dropped_units=dropped_units,
        )


class _DropSample:
    """The first `cap` dropped units by (last step time, unit id), in bounded memory."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.kept: list[tuple[int, str, str, datetime]] = []

    def offer(self, ms: int, unit_id: str, session_id: str, at: datetime) -> None:
        if not self.cap:
            return
        self.kept.append((ms, unit_id, session_id, at))
        if len(self.kept) > 2 * self.cap:
            self._trim()

    def _trim(self) -> None:
        self.kept.sort(key=lambda kept: kept[:3])
        del self.kept[self.cap :]

    def units(self) -> list[DroppedUnit]:
        self._trim()
        return [DroppedUnit(unit_id, session, at) for _, unit_id, session, at in self.kept]


@dataclass(frozen=True, slots=True)
class ColumnCheck:
    """One distinct condition of a funnel, for events stored as columns: the kind, and a
    test per column it looks at ("url" or "path", "element", "text", "name"), each taking
    that column's value (None when the event has none), plus the steps it plays or guards."""

    kind: str
    tests: Mapping[str, Callable[[Any], bool]]
    steps: tuple[int, ...]
    exclusions: tuple[int, ...]

    @classmethod
    def of(cls, kind: str, check: _Check) -> "ColumnCheck":
        matcher = check.matcher
        tests: dict[str, Callable[[Any], bool]] = {}
        url_field = matcher.url_field
        if url_field is not None:
            tests[url_field] = lambda v: matcher._url_matches({url_field: v})
        if matcher.selector is not None:
            selector = matcher.selector
            tests["element"] = lambda v: isinstance(v, Mapping) and selector.matches(v)
        if matcher.text is not None:
            tests["text"] = lambda v: matcher._text_matches({"text": v})
        if matcher.name is not None:
            tests["name"] = lambda v: v == matcher.name
        return cls(kind, tests, check.steps, check.exclusions)


class FunnelAccumulator:
    """Funnel numbers over units given one at a time, so memory holds one unit's events plus
    per-step counts, one time per converted unit and step, and the drop-off samples."""

    def __init__(self, definition: FunnelDefinition, *, drop_off_sample: int = 1000) -> None:
        if not _is_int(drop_off_sample) or drop_off_sample < 0:
            raise FunnelError(f"drop_off_sample must be 0 or more, got {drop_off_sample!r}")
        self._funnel = _Funnel.of(definition)
        self._total = 0
        self._overall = _Tally(self._funnel.size)
        self._breakdowns: dict[str, _Tally] = {}
        self._dropped = [_DropSample(drop_off_sample) for _ in range(self._funnel.size)]

    def add(self, unit: UnitEvents) -> None:
        if not unit.events:
            return
        search, timed = _UnitSearch.of_events(self._funnel, unit.events)
        path = [timed[position] for position in search.best_path()]
        last = path[-1] if path else None
        session = (_string(last.event, "session_id") if last else None) or unit.session_id
        self._count(unit.unit_id, unit.breakdown, [item.ms for item in path], session, last)

    def add_path(
        self, unit_id: str, breakdown: str | None, path: Sequence[int], session: str
    ) -> None:
        """A unit whose best attempt was found elsewhere (`core.funnel_search`): the times
        (ms) of its steps' events, and the session of the last one."""
        last = None
        if path:
            last = _Timed(path[-1], from_epoch_ms(path[-1]), 0, {})
        self._count(unit_id, breakdown, list(path), session, last)

    def add_unreached(self, breakdown: str | None) -> None:
        """A unit with events, none of which can play step 1."""
        self._count("", breakdown, [], "", None)

    def _count(
        self,
        unit_id: str,
        breakdown: str | None,
        path: list[int],
        session: str,
        last: _Timed | None,
    ) -> None:
        self._total += 1
        self._overall.record(path)
        key = breakdown if breakdown is not None else NO_BREAKDOWN
        tally = self._breakdowns.get(key)
        if tally is None:
            tally = self._breakdowns[key] = _Tally(self._funnel.size)
        tally.record(path)
        if last is not None and len(path) < self._funnel.size:
            self._dropped[len(path)].offer(last.ms, unit_id, session, last.at)

    @property
    def step_count(self) -> int:
        return self._funnel.size

    @property
    def window_ms(self) -> int:
        return self._funnel.window_ms

    @property
    def max_ms(self) -> tuple[int | None, ...]:
        """Per step, its maximum time from the previous step (None: no maximum)."""
        return self._funnel.max_ms

    def column_checks(self) -> list[ColumnCheck]:
        """The funnel's distinct conditions, each as tests of single stored values."""
        return [
            ColumnCheck.of(kind, check)
            for kind, checks in self._funnel.checks_by_kind.items()
            for check in checks
        ]

    def result(self) -> FunnelResult:
        labels = self._funnel.labels
        return FunnelResult(
            steps=self._overall.results(labels, [sample.units() for sample in self._dropped]),
            total_units=self._total,
            breakdown={
                key: self._breakdowns[key].results(labels) for key in sorted(self._breakdowns)
            },
        )
