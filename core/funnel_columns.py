"""Funnels over events stored as columns (`core.event_columns`). Pure: no I/O.

The numbers are those of `core.funnels` over the same events (the tests compare both on
random data). What changes is the work: each condition of the funnel is tested once per
distinct string or element of the block, every event is classified by array lookups, units
are grouped by one sort, and the exact search of `core.funnels` runs only for units that
have a step 1 event, over only the events that can play a step or exclude one (leaving the
others out changes neither the order nor what lies between two events).
"""

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from core.event_columns import KIND_CODES, Block
from core.funnels import ClassifiedUnit, ColumnCheck, FunnelAccumulator, Unit

BoolArray = npt.NDArray[np.bool_]
# Units between two looks at the clock.
DEADLINE_EVERY = 512


@dataclass(frozen=True)
class Scope:
    """Which events count: a time range in epoch ms [start, end), the unit, the session
    facts every counted session must have, and the fact to break down by."""

    start_ms: int
    end_ms: int
    unit: Unit
    wanted: Mapping[str, str]
    breakdown: str | None = None


def _lookup(values: Sequence[Any], test: Callable[[Any], bool]) -> BoolArray:
    """The test of each table entry, plus False for NONE (the last entry, index -1)."""
    return np.array([bool(test(value)) for value in values] + [False], dtype=bool)


def _check_mask(block: Block, rows: npt.NDArray[np.int64], check: ColumnCheck) -> BoolArray:
    columns = block.columns
    code = KIND_CODES.get(check.kind)
    if code is None:
        return np.zeros(len(rows), dtype=bool)
    mask: BoolArray = columns.kind[rows] == code
    for column, test in check.tests.items():
        table = block.elements if column == "element" else block.strings
        mask &= _lookup(table, test)[getattr(columns, column)[rows]]
    return mask


def _session_facts(block: Block, scope: Scope) -> tuple[BoolArray, list[str | None]]:
    passes = np.array(
        [all(s.facts.get(k) == v for k, v in scope.wanted.items()) for s in block.sessions]
        + [False],
        dtype=bool,
    )
    values = [s.facts.get(scope.breakdown) if scope.breakdown else None for s in block.sessions]
    return passes, values


def _units(block: Block, scope: Scope) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Per session of the block, its unit number; and the unit ids, by number."""
    ids: dict[str, int] = {}
    numbers = []
    for session in block.sessions:
        unit_id = session.visitor_id if scope.unit == Unit.VISITORS else session.session_id
        numbers.append(ids.setdefault(unit_id, len(ids)))
    return np.array(numbers, dtype=np.int64), list(ids)


def _counted_rows(block: Block, scope: Scope, kinds: set[int]) -> npt.NDArray[np.int64]:
    """Indexes of the events in range, of the funnel's kinds, of sessions that pass."""
    columns = block.columns
    passes, _ = _session_facts(block, scope)
    mask = (columns.ms >= scope.start_ms) & (columns.ms < scope.end_ms)
    mask &= np.isin(columns.kind, np.array(sorted(kinds), dtype=np.uint8))
    if len(block.sessions):
        mask &= passes[columns.session.astype(np.int64)]
    return np.flatnonzero(mask)


def _ordered(block: Block, rows: npt.NDArray[np.int64], unit_of: npt.NDArray[np.int64]) -> Any:
    """The rows sorted by unit, time, session id, then stored order."""
    columns = block.columns
    sessions = columns.session[rows].astype(np.int64)
    session_rank = np.argsort(np.argsort([s.session_id for s in block.sessions], kind="stable"))
    keys = (rows, session_rank[sessions], columns.ms[rows], unit_of[sessions])
    return rows[np.lexsort(keys)]


def evaluate(
    accumulator: FunnelAccumulator, block: Block, scope: Scope, deadline: float | None = None
) -> None:
    """Adds every unit of the block's events in scope to the accumulator; TimeoutError once
    `time.monotonic()` passes `deadline`."""
    checks = accumulator.column_checks()
    kinds = {KIND_CODES[c.kind] for c in checks if c.kind in KIND_CODES}
    unit_of, unit_ids = _units(block, scope)
    rows = _ordered(block, _counted_rows(block, scope, kinds), unit_of)
    if not len(rows):
        return
    sessions = block.columns.session[rows].astype(np.int64)
    units = unit_of[sessions]
    starts = np.flatnonzero(np.r_[True, units[1:] != units[:-1]])
    _, breakdowns = _session_facts(block, scope)
    masks = [_check_mask(block, rows, check) for check in checks]
    _Units(accumulator, block, rows, sessions, starts, unit_ids, breakdowns).add(
        units, checks, masks, deadline
    )


class _Units:
    """Hands the sorted events to the accumulator one unit at a time."""

    def __init__(
        self,
        accumulator: FunnelAccumulator,
        block: Block,
        rows: npt.NDArray[np.int64],
        sessions: npt.NDArray[np.int64],
        starts: npt.NDArray[np.int64],
        unit_ids: list[str],
        breakdowns: list[str | None],
    ) -> None:
        self.accumulator, self.block = accumulator, block
        self.rows, self.sessions, self.starts = rows, sessions, starts
        self.unit_ids, self.breakdowns = unit_ids, breakdowns

    def add(
        self,
        units: npt.NDArray[np.int64],
        checks: list[ColumnCheck],
        masks: list[BoolArray],
        deadline: float | None,
    ) -> None:
        relevant = np.zeros(len(self.rows), dtype=bool)
        for mask in masks:
            relevant |= mask
        kept = np.flatnonzero(relevant)
        # Per kept event: its unit's number among `starts`, and its position in the unit.
        unit_index = np.searchsorted(self.starts, kept, side="right") - 1
        first_kept = np.searchsorted(kept, self.starts)
        position = np.arange(len(kept)) - first_kept[unit_index]
        steps = self.accumulator.step_count
        roles = _Roles(checks, masks, kept, unit_index, position, steps, len(self.starts))
        times = self.block.columns.ms[self.rows[kept]].tolist()
        bounds = np.r_[first_kept, len(kept)].tolist()
        step_one = roles.has_step_one()
        for u, start in enumerate(self.starts.tolist()):
            if deadline is not None and u % DEADLINE_EVERY == 0 and time.monotonic() > deadline:
                raise TimeoutError("the funnel's time budget is spent")
            breakdown = self.breakdowns[int(self.sessions[start])]
            if not step_one[u]:
                self.accumulator.add_unreached(breakdown)
                continue
            lo, hi = bounds[u], bounds[u + 1]
            self.accumulator.add_classified(
                ClassifiedUnit(
                    unit_id=self.unit_ids[int(units[start])],
                    breakdown=breakdown,
                    times=times[lo:hi],
                    candidates=roles.candidates(u),
                    exclusions=roles.exclusions(u),
                    session_of=self._session_lookup(kept, lo),
                )
            )

    def _session_lookup(self, kept: npt.NDArray[np.int64], lo: int) -> Callable[[int], str]:
        def session_of(position: int) -> str:
            session = int(self.sessions[kept[lo + position]])
            return self.block.sessions[session].session_id

        return session_of


class _Roles:
    """Per step, the positions (within their unit) of the events that play it or exclude
    it, cut per unit."""

    def __init__(
        self,
        checks: list[ColumnCheck],
        masks: list[BoolArray],
        kept: npt.NDArray[np.int64],
        unit_index: npt.NDArray[np.int64],
        position: npt.NDArray[np.int64],
        steps: int,
        unit_count: int,
    ) -> None:
        self.steps, self.unit_count = steps, unit_count
        play = [np.zeros(len(kept), dtype=bool) for _ in range(steps)]
        block = [np.zeros(len(kept), dtype=bool) for _ in range(steps)]
        for check, mask in zip(checks, masks, strict=True):
            on_kept = mask[kept]
            for step in check.steps:
                play[step] |= on_kept
            for step in check.exclusions:
                block[step] |= on_kept
        self._play = [self._per_unit(m, unit_index, position) for m in play]
        self._block = [self._per_unit(m, unit_index, position) for m in block]

    def _per_unit(
        self, mask: BoolArray, unit_index: npt.NDArray[np.int64], position: npt.NDArray[np.int64]
    ) -> tuple[list[int], list[int]]:
        chosen = np.flatnonzero(mask)
        cuts = np.searchsorted(unit_index[chosen], np.arange(self.unit_count + 1))
        return position[chosen].tolist(), cuts.tolist()

    def has_step_one(self) -> list[bool]:
        _, cuts = self._play[0]
        return [cuts[u + 1] > cuts[u] for u in range(self.unit_count)]

    def candidates(self, unit: int) -> list[list[int]]:
        return [positions[cuts[unit] : cuts[unit + 1]] for positions, cuts in self._play]

    def exclusions(self, unit: int) -> list[list[int]]:
        return [positions[cuts[unit] : cuts[unit + 1]] for positions, cuts in self._block]
