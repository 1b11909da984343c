"""Funnels over events stored as columns (`core.event_columns`). Pure: no I/O.

The numbers are those of `core.funnels` over the same events (the tests compare both on
random data). What changes is the work: each condition of the funnel is tested once per
distinct string or element of the block, every event is classified by array lookups, units
are grouped by one sort, and the exact search runs for all units at once
(`core.funnel_search`) over only the events that can play a step or exclude one (leaving
the others out changes neither the order nor what lies between two events).
"""

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from core.event_columns import KIND_CODES, Block
from core.funnel_search import Events, Rules, Search
from core.funnels import ColumnCheck, FunnelAccumulator, Unit

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


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
    plays, excludes = _roles(
        accumulator.step_count, checks, [_check_mask(block, rows, c) for c in checks]
    )
    relevant = np.logical_or.reduce([*plays, *excludes])
    kept = np.flatnonzero(relevant)
    events = Events(
        times=block.columns.ms[rows[kept]],
        unit=units[kept],
        plays=[mask[kept] for mask in plays],
        excludes=[mask[kept] for mask in excludes],
    )
    _check_time(deadline)
    depth, paths = _paths(events, accumulator)
    _check_time(deadline)
    _, breakdowns = _session_facts(block, scope)
    reached = dict(zip(np.unique(events.unit).tolist(), range(len(depth)), strict=True))
    times = events.times
    kept_sessions = sessions[kept]
    for start in np.flatnonzero(np.r_[True, units[1:] != units[:-1]]).tolist():
        unit = int(units[start])
        breakdown = breakdowns[int(sessions[start])]
        found = reached.get(unit)
        steps = int(depth[found]) if found is not None else 0
        if not steps:
            accumulator.add_unreached(breakdown)
            continue
        positions = paths[found, :steps]
        session = block.sessions[int(kept_sessions[positions[-1]])].session_id
        accumulator.add_path(unit_ids[unit], breakdown, times[positions].tolist(), session)


def _check_time(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError("the funnel's time budget is spent")


def _roles(
    steps: int, checks: list[ColumnCheck], masks: list[BoolArray]
) -> tuple[list[BoolArray], list[BoolArray]]:
    """Per step, the events that can play it and the events that exclude it."""
    size = len(masks[0]) if masks else 0
    plays = [np.zeros(size, dtype=bool) for _ in range(steps)]
    excludes = [np.zeros(size, dtype=bool) for _ in range(steps)]
    for check, mask in zip(checks, masks, strict=True):
        for step in check.steps:
            plays[step] |= mask
        for step in check.exclusions:
            excludes[step] |= mask
    return plays, excludes


def _paths(events: Events, accumulator: FunnelAccumulator) -> tuple[IntArray, IntArray]:
    if not len(events):
        return np.zeros(0, dtype=np.int64), np.zeros((0, accumulator.step_count), dtype=np.int64)
    rules = Rules(accumulator.window_ms, accumulator.max_ms)
    return Search(events, rules).paths()
