"""Funnels over event columns give exactly the numbers of the event-by-event evaluation.

Random sites (sessions, visitors, pages, elements, custom events, errors, ties at the same
millisecond, sessions over midnight) and random funnels (every step type and condition,
exclusions, per-step maximums, windows) are evaluated both ways, per session and per
visitor, with and without a session filter and a breakdown, over the whole range and a cut
of it; the results must be equal, drop-off lists included.
"""

import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.event_columns import (
    BlockSession,
    Columns,
    events_of,
    merged,
    pack,
    session_block,
    split_by_day,
    unpack,
    without_sessions,
)
from core.funnel_columns import Scope, evaluate
from core.funnels import (
    EventType,
    Exclusion,
    FunnelAccumulator,
    FunnelDefinition,
    FunnelResult,
    MatchOp,
    Step,
    StepMatcher,
    Unit,
    UnitEvents,
    UrlMatcher,
    epoch_ms,
)

START = datetime(2026, 5, 1, 22, tzinfo=UTC)
PATHS = ["/", "/product", "/cart", "/checkout", "/thanks"]
ELEMENTS = [
    ("button#add.primary", [{"t": "button", "i": "add", "c": ["primary"]}, {"t": "form"}]),
    ("a.nav", [{"t": "a", "c": ["nav"]}, {"t": "nav"}]),
    ("button#pay", [{"t": "button", "i": "pay"}, {"t": "form", "i": "checkout"}]),
    ("div.item:nth-of-type(2)", [{"t": "div", "c": ["item"]}]),
]
NAMES = ["signup", "coupon", "share"]
TEXTS = ["Add to cart", "Pay now", "Apply coupon", None]
FACTS = {"device_type": ["desktop", "mobile"], "browser": ["Chrome", "Firefox"], "country": ["FR"]}


def _event(rng: random.Random, session: str, visitor: str, ms: int, n: int) -> dict[str, Any]:
    kind = rng.choice(list(EventType))
    path = rng.choice(PATHS)
    event: dict[str, Any] = {
        "key": f"{kind}:{ms}:{n:05d}",
        "session_id": session,
        "visitor_id": visitor,
        "kind": str(kind),
        "at": START + timedelta(milliseconds=ms),
        "url": "https://shop.test" + path,
        "path": path,
    }
    if kind in (EventType.CLICK, EventType.SUBMIT, EventType.INPUT):
        selector, element_path = rng.choice(ELEMENTS)
        event.update(selector=selector, element_path=element_path)
        text = rng.choice(TEXTS)
        if text is not None:
            event["text"] = text
    if kind == EventType.CUSTOM:
        event["name"] = rng.choice(NAMES)
    return event


def _site(rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    by_session: dict[str, list[dict[str, Any]]] = {}
    for number in range(rng.randint(1, 25)):
        session, visitor = f"s{number:03d}", f"v{rng.randint(0, 8)}"
        ms = rng.randint(0, 5 * 3_600_000)
        events = []
        for n in range(rng.randint(1, 30)):
            ms += rng.choice([0, 0, 1, 500, 60_000, 1_800_000])
            events.append(_event(rng, session, visitor, ms, n))
        by_session[session] = events
    return by_session


def _matcher(rng: random.Random, kind: EventType) -> StepMatcher:
    options: dict[str, Any] = {}
    if rng.random() < 0.6:
        field = rng.choice(["url", "path"])
        op = rng.choice(list(MatchOp))
        value = {MatchOp.EQUALS: rng.choice(PATHS), MatchOp.CONTAINS: "c",
                 MatchOp.REGEX: "^/(cart|thanks)$" if field == "path" else "duct"}[op]  # fmt: skip
        if field == "url" and op == MatchOp.EQUALS:
            value = "https://shop.test" + value
        options["url"] = UrlMatcher(field, op, value)
    if kind in (EventType.CLICK, EventType.SUBMIT, EventType.INPUT) and rng.random() < 0.5:
        options["selector"] = rng.choice(["button", "#add", "form > button#pay", "a.nav"])
    if rng.random() < 0.2:
        options["text_contains"] = rng.choice(["cart", "PAY", "coupon"])
    if kind == EventType.CUSTOM and rng.random() < 0.7:
        options["name"] = rng.choice(NAMES)
    return StepMatcher(**options)


def _definition(rng: random.Random) -> FunnelDefinition:
    steps = []
    for index in range(rng.randint(2, 4)):
        kind = rng.choice(list(EventType))
        exclusions: tuple[Exclusion, ...] = ()
        if index and rng.random() < 0.3:
            other = rng.choice(list(EventType))
            exclusions = (Exclusion(other, _matcher(rng, other)),)
        max_ms = rng.choice([None, None, 60_000, 3_600_000]) if index else None
        steps.append(Step(kind, _matcher(rng, kind), None, max_ms, exclusions))
    window = rng.choice([1, 60_000, 3_600_000, 86_400_000])
    return FunnelDefinition(tuple(steps), window)


def _facts(rng: random.Random, sessions: list[str]) -> dict[str, dict[str, str]]:
    return {
        s: {name: rng.choice(values) for name, values in FACTS.items() if rng.random() < 0.9}
        for s in sessions
    }


def _by_events(
    definition: FunnelDefinition,
    by_session: Mapping[str, list[dict[str, Any]]],
    facts: Mapping[str, Mapping[str, str]],
    scope: Scope,
) -> FunnelResult:
    """The reference: each unit's events, in order, given to the event-by-event evaluation."""
    kinds = {str(step.type) for step in definition.steps}
    kinds |= {str(item.type) for step in definition.steps for item in step.exclusions}
    field = "visitor_id" if scope.unit == Unit.VISITORS else "session_id"
    kept = [
        event
        for session, events in by_session.items()
        if all(facts[session].get(k) == v for k, v in scope.wanted.items())
        for event in events
        if event["kind"] in kinds and scope.start_ms <= epoch_ms(event["at"]) < scope.end_ms
    ]
    kept.sort(key=lambda e: (e[field], epoch_ms(e["at"]), e["session_id"], e["key"]))
    accumulator = FunnelAccumulator(definition, drop_off_sample=5)
    units: dict[str, list[dict[str, Any]]] = {}
    for event in kept:
        units.setdefault(event[field], []).append(event)
    for unit_id, events in units.items():
        first = events[0]["session_id"]
        breakdown = facts[first].get(scope.breakdown) if scope.breakdown else None
        accumulator.add(UnitEvents(unit_id, first, breakdown, events))
    return accumulator.result()


def _block(
    by_session: Mapping[str, list[dict[str, Any]]], facts: Mapping[str, Mapping[str, str]]
) -> Any:
    blocks = []
    for session, events in by_session.items():
        owner = BlockSession(session, events[0]["visitor_id"], 1, facts[session])
        whole = session_block(owner, events)
        blocks.extend(split_by_day(whole).values())
    return merged(blocks)


def _by_columns(definition: FunnelDefinition, block: Any, scope: Scope) -> FunnelResult:
    accumulator = FunnelAccumulator(definition, drop_off_sample=5)
    evaluate(accumulator, block, scope)
    return accumulator.result()


@pytest.mark.parametrize("seed", range(400))
def test_columns_give_the_numbers_of_the_events(seed: int) -> None:
    rng = random.Random(seed)
    by_session = _site(rng)
    facts = _facts(rng, list(by_session))
    block = _block(by_session, facts)
    definition = _definition(rng)
    start_ms = epoch_ms(START) + rng.choice([0, 3_600_000])
    for unit in Unit:
        wanted = rng.choice([{}, {"device_type": "desktop"}])
        breakdown = rng.choice([None, "browser", "country"])
        scope = Scope(start_ms, start_ms + rng.choice([2, 4, 8]) * 3_600_000, unit, wanted,
                      breakdown)  # fmt: skip
        expected = _by_events(definition, by_session, facts, scope)
        assert _by_columns(definition, block, scope) == expected


def test_a_block_survives_packing_and_gives_its_events_back() -> None:
    rng = random.Random(7)
    events = _site(rng)["s000"]
    owner = BlockSession("s000", "v1", 3, {"device_type": "mobile"})
    block = session_block(owner, events)
    columns = unpack(pack(block.columns), len(block.columns))
    assert all((getattr(columns, n) == getattr(block.columns, n)).all() for n in vars(columns))
    back = {e["key"]: e for e in events_of(block)}
    for event in events:
        stored = back[event["key"]]
        for name in ("kind", "at", "url", "path", "text", "name", "selector", "element_path"):
            assert stored.get(name) == event.get(name), name


def test_unpacking_refuses_columns_of_another_length() -> None:
    block = session_block(BlockSession("s", "v", 1), _site(random.Random(2))["s000"])
    blob = pack(block.columns)
    for rows in (len(block.columns) - 1, len(block.columns) + 1):
        with pytest.raises(ValueError, match="row count"):
            unpack(blob, rows)
    assert len(unpack(pack(Columns.empty()), 0)) == 0


def test_removing_sessions_leaves_nothing_of_them() -> None:
    by_session = _site(random.Random(11))
    facts = {s: {} for s in by_session}
    block = _block(by_session, facts)
    gone = set(list(by_session)[::2])
    rest = without_sessions(block, gone)
    assert {s.session_id for s in rest.sessions} == set(by_session) - gone
    expected = _block({s: e for s, e in by_session.items() if s not in gone}, facts)
    assert sorted(map(repr, events_of(rest))) == sorted(map(repr, events_of(expected)))
    used = {int(c) for n in ("url", "path", "text", "name") for c in getattr(rest.columns, n)}
    assert used - {-1} == set(range(len(rest.strings)))
