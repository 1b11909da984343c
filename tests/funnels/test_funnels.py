import itertools
import random
import re
import statistics
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.elements import SelectorMatch
from core.funnels import (
    MAX_WINDOW_MS,
    DroppedUnit,
    EventType,
    Exclusion,
    FunnelAccumulator,
    FunnelDefinition,
    FunnelError,
    FunnelResult,
    MatchOp,
    Step,
    StepMatcher,
    UnitEvents,
    UrlMatcher,
    best_attempt,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
Event = dict[str, Any]


def at(ms: int) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def ev(kind: str, ms: int, *, session: str = "s1", **fields: Any) -> Event:
    return {"kind": kind, "at": at(ms), "session_id": session, **fields}


def pv(ms: int, path: str, *, session: str = "s1") -> Event:
    return ev("page_view", ms, session=session, path=path, url=f"https://shop.example{path}")


def click(ms: int, selector: str, *, session: str = "s1", text: str | None = None) -> Event:
    return ev("click", ms, session=session, selector=selector, text=text)


def path_is(path: str) -> StepMatcher:
    return StepMatcher(url=UrlMatcher("path", MatchOp.EQUALS, path))


def page(path: str, **options: Any) -> Step:
    return Step(EventType.PAGE_VIEW, path_is(path), **options)


def clicked(selector: str, **options: Any) -> Step:
    return Step(EventType.CLICK, StepMatcher(selector=selector), **options)


def unit(
    unit_id: str, events: Sequence[Event], *, breakdown: str | None = None, session: str = "s1"
) -> UnitEvents:
    return UnitEvents(unit_id=unit_id, session_id=session, breakdown=breakdown, events=events)


def run(
    definition: FunnelDefinition, units: Sequence[UnitEvents], *, drop_off_sample: int = 1000
) -> FunnelResult:
    accumulator = FunnelAccumulator(definition, drop_off_sample=drop_off_sample)
    for item in units:
        accumulator.add(item)
    return accumulator.result()


def entered(result: FunnelResult) -> list[int]:
    return [step.entered for step in result.steps]


def one(definition: FunnelDefinition, events: Sequence[Event]) -> list[int]:
    return entered(run(definition, [unit("u1", events)]))


CART = FunnelDefinition((page("/cart"), page("/checkout")))


# Counting.


def test_two_steps() -> None:
    result = run(
        CART,
        [
            unit("a", [pv(0, "/"), pv(10, "/cart"), pv(30, "/checkout")]),
            unit("b", [pv(0, "/cart"), pv(5, "/")]),
            unit("c", [pv(0, "/")]),
            unit("d", []),
        ],
    )
    assert result.total_units == 3
    first, second = result.steps
    assert (first.index, first.entered, first.dropped) == (1, 2, 0)
    assert (first.conversion_from_first, first.conversion_from_previous) == (1.0, 1.0)
    assert (second.index, second.entered, second.dropped) == (2, 1, 1)
    assert (second.conversion_from_first, second.conversion_from_previous) == (0.5, 0.5)
    assert second.median_ms_from_previous == 20.0
    assert first.median_ms_from_previous is None
    assert first.p90_ms_from_previous is None


def test_four_steps() -> None:
    definition = FunnelDefinition(
        (page("/product"), clicked("button.add"), page("/checkout"), Step(EventType.SUBMIT))
    )
    full = [pv(0, "/product"), click(5, "button.add"), pv(9, "/checkout"), ev("submit", 20)]
    result = run(
        definition,
        [
            unit("reaches-1", full[:1]),
            unit("reaches-2", full[:2]),
            unit("reaches-3", [*full[:3], click(30, "a.other")]),
            unit("reaches-4", full),
            unit("skips-2", [full[0], *full[2:]]),
        ],
    )
    assert entered(result) == [5, 3, 2, 1]
    assert [s.dropped for s in result.steps] == [0, 2, 1, 1]
    assert [s.conversion_from_first for s in result.steps] == [1.0, 0.6, 0.4, 0.2]
    assert [s.conversion_from_previous for s in result.steps] == [1.0, 0.6, 2 / 3, 0.5]
    assert [s.median_ms_from_previous for s in result.steps] == [None, 5.0, 4.0, 11.0]


def test_nobody_entered() -> None:
    result = run(CART, [unit("a", [pv(0, "/checkout")])])
    assert result.total_units == 1
    for step in result.steps:
        assert (step.entered, step.dropped) == (0, 0)
        assert (step.conversion_from_first, step.conversion_from_previous) == (0.0, 0.0)
        assert step.median_ms_from_previous is None
        assert step.dropped_units == []


def test_out_of_order_does_not_convert() -> None:
    assert one(CART, [pv(0, "/checkout"), pv(10, "/cart")]) == [1, 0]
    assert one(CART, [pv(0, "/checkout"), pv(10, "/cart"), pv(20, "/checkout")]) == [1, 1]


def test_same_millisecond_counts_when_recorded_after() -> None:
    assert one(CART, [pv(5, "/cart"), pv(5, "/checkout")]) == [1, 1]
    assert one(CART, [pv(5, "/checkout"), pv(5, "/cart")]) == [1, 0]


def test_one_event_never_plays_two_steps() -> None:
    twice = FunnelDefinition((page("/cart"), page("/cart")))
    assert one(twice, [pv(0, "/cart")]) == [1, 0]
    assert one(twice, [pv(0, "/cart"), pv(0, "/cart")]) == [1, 1]


def test_events_are_sorted_by_time() -> None:
    assert one(CART, [pv(30, "/checkout"), pv(10, "/cart")]) == [1, 1]


# Windows.


def test_conversion_window_edge() -> None:
    definition = FunnelDefinition((page("/cart"), page("/checkout")), conversion_window_ms=1000)
    assert one(definition, [pv(0, "/cart"), pv(1000, "/checkout")]) == [1, 1]
    assert one(definition, [pv(0, "/cart"), pv(1001, "/checkout")]) == [1, 0]


def test_window_covers_every_step_from_the_first() -> None:
    definition = FunnelDefinition((page("/a"), page("/b"), page("/c")), conversion_window_ms=100)
    assert one(definition, [pv(0, "/a"), pv(60, "/b"), pv(100, "/c")]) == [1, 1, 1]
    assert one(definition, [pv(0, "/a"), pv(60, "/b"), pv(101, "/c")]) == [1, 1, 0]


def test_default_window_is_a_day() -> None:
    day = 24 * 3600 * 1000
    assert one(CART, [pv(0, "/cart"), pv(day, "/checkout")]) == [1, 1]
    assert one(CART, [pv(0, "/cart"), pv(day + 1, "/checkout")]) == [1, 0]


def test_max_time_from_previous_edge() -> None:
    definition = FunnelDefinition((page("/cart"), page("/checkout", max_ms_from_previous=50)))
    assert one(definition, [pv(0, "/cart"), pv(50, "/checkout")]) == [1, 1]
    assert one(definition, [pv(0, "/cart"), pv(51, "/checkout")]) == [1, 0]


# Attempts.


def test_repeated_first_step_counts_once_with_the_best_attempt() -> None:
    definition = FunnelDefinition((page("/cart"), page("/checkout")), conversion_window_ms=100)
    events = [pv(0, "/cart"), pv(100, "/cart"), pv(150, "/checkout")]
    result = run(definition, [unit("u1", events)])
    assert entered(result) == [1, 1]
    assert result.steps[1].median_ms_from_previous == 50.0
    assert best_attempt(definition, events) == (1, 2)


def test_equally_good_attempts_take_the_earliest() -> None:
    events = [pv(0, "/cart"), pv(10, "/cart"), pv(20, "/checkout"), pv(25, "/checkout")]
    assert best_attempt(CART, events) == (0, 2)
    assert run(CART, [unit("u1", events)]).steps[1].median_ms_from_previous == 20.0


def test_exact_search_beats_greedy_with_max_time() -> None:
    definition = FunnelDefinition(
        (page("/product"), page("/cart"), page("/checkout", max_ms_from_previous=10))
    )
    events = [pv(0, "/product"), pv(10, "/cart"), pv(100, "/cart"), pv(105, "/checkout")]
    # Greedy takes /cart at 10, then /checkout is 95 ms later: too late. /cart at 100 works.
    assert best_attempt(definition, events) == (0, 2, 3)
    result = run(definition, [unit("u1", events)])
    assert entered(result) == [1, 1, 1]
    assert [s.median_ms_from_previous for s in result.steps] == [None, 100.0, 5.0]


def test_exact_search_beats_greedy_with_exclusions() -> None:
    help_page = Exclusion(EventType.PAGE_VIEW, path_is("/help"))
    definition = FunnelDefinition(
        (page("/product"), page("/cart"), page("/checkout", exclusions=(help_page,)))
    )
    events = [pv(0, "/product"), pv(1, "/cart"), pv(2, "/help"), pv(3, "/cart"), pv(4, "/checkout")]
    assert best_attempt(definition, events) == (0, 3, 4)


def test_partial_attempt_uses_the_earliest_events() -> None:
    definition = FunnelDefinition((page("/a"), page("/b"), page("/c")))
    assert best_attempt(definition, [pv(0, "/a"), pv(5, "/b"), pv(9, "/b")]) == (0, 1)
    assert best_attempt(definition, [pv(0, "/b"), pv(5, "/x")]) == ()


# Exclusions.


def test_exclusion_between_steps() -> None:
    coupon = Exclusion(EventType.CLICK, StepMatcher(selector="a.coupon"))
    definition = FunnelDefinition((page("/cart"), page("/checkout", exclusions=(coupon,))))
    excluded = click(5, "a.coupon")
    assert one(definition, [pv(0, "/cart"), excluded, pv(10, "/checkout")]) == [1, 0]
    assert one(definition, [excluded, pv(6, "/cart"), pv(10, "/checkout")]) == [1, 1]
    assert one(definition, [pv(0, "/cart"), pv(4, "/checkout"), excluded]) == [1, 1]
    assert one(definition, [pv(0, "/cart"), click(5, "a.other"), pv(10, "/checkout")]) == [1, 1]
    restart = [pv(0, "/cart"), excluded, pv(6, "/cart"), pv(10, "/checkout")]
    assert one(definition, restart) == [1, 1]


def test_exclusion_at_the_same_millisecond_follows_recorded_order() -> None:
    error = Exclusion(EventType.ERROR, StepMatcher())
    definition = FunnelDefinition((page("/cart"), page("/checkout", exclusions=(error,))))
    assert one(definition, [pv(0, "/cart"), ev("error", 0), pv(0, "/checkout")]) == [1, 0]
    assert one(definition, [pv(0, "/cart"), pv(0, "/checkout"), ev("error", 0)]) == [1, 1]
    assert one(definition, [ev("error", 0), pv(0, "/cart"), pv(0, "/checkout")]) == [1, 1]


def test_the_step_events_themselves_are_not_between() -> None:
    help_page = Exclusion(EventType.PAGE_VIEW, path_is("/help"))
    definition = FunnelDefinition(
        (Step(EventType.PAGE_VIEW), Step(EventType.PAGE_VIEW, exclusions=(help_page,)))
    )
    assert one(definition, [pv(0, "/help"), pv(1, "/cart")]) == [1, 1]
    assert one(definition, [pv(0, "/cart"), pv(1, "/help")]) == [1, 1]
    assert best_attempt(definition, [pv(0, "/cart"), pv(1, "/help"), pv(2, "/x")]) == (0, 1)


def test_exclusions_only_guard_their_own_step() -> None:
    error = Exclusion(
        EventType.ERROR,
        StepMatcher(),
    )
    definition = FunnelDefinition((page("/a"), page("/b"), page("/c", exclusions=(error,))))
    assert one(definition, [pv(0, "/a"), ev("error", 1), pv(2, "/b"), pv(3, "/c")]) == [1, 1, 1]
    assert one(definition, [pv(0, "/a"), pv(2, "/b"), ev("error", 2), pv(3, "/c")]) == [1, 1, 0]


# Units.


def test_sessions_and_visitors_count_differently() -> None:
    events = {
        ("v1", "s1"): [pv(0, "/cart", session="s1")],
        ("v1", "s2"): [pv(100, "/", session="s2"), pv(200, "/checkout", session="s2")],
        ("v2", "s3"): [pv(0, "/cart", session="s3"), pv(50, "/checkout", session="s3")],
        ("v2", "s4"): [pv(500, "/cart", session="s4"), pv(600, "/checkout", session="s4")],
    }
    sessions = [unit(s, e, session=s) for (_, s), e in events.items()]
    by_session = run(CART, sessions)
    assert by_session.total_units == 4
    assert entered(by_session) == [3, 2]

    visitors = [
        unit(v, [e for (owner, _), items in events.items() if owner == v for e in items])
        for v in ("v1", "v2")
    ]
    by_visitor = run(CART, visitors)
    assert by_visitor.total_units == 2
    assert entered(by_visitor) == [2, 2]
    assert [s.median_ms_from_previous for s in by_visitor.steps] == [None, 125.0]


def test_breakdown() -> None:
    result = run(
        CART,
        [
            unit("a", [pv(0, "/cart"), pv(10, "/checkout")], breakdown="chrome"),
            unit("b", [pv(0, "/cart")], breakdown="chrome"),
            unit("c", [pv(0, "/cart"), pv(30, "/checkout")], breakdown="firefox"),
            unit("d", [pv(0, "/cart")]),
            unit("e", [pv(0, "/")], breakdown="safari"),
        ],
    )
    assert entered(result) == [4, 2]
    assert list(result.breakdown) == ["(none)", "chrome", "firefox", "safari"]
    counts = {key: [s.entered for s in steps] for key, steps in result.breakdown.items()}
    assert counts == {"(none)": [1, 0], "chrome": [2, 1], "firefox": [1, 1], "safari": [0, 0]}
    chrome = result.breakdown["chrome"]
    assert chrome[1].conversion_from_first == 0.5
    assert chrome[1].dropped == 1
    assert chrome[1].median_ms_from_previous == 10.0
    assert result.breakdown["firefox"][1].median_ms_from_previous == 30.0
    assert all(s.dropped_units == [] for steps in result.breakdown.values() for s in steps)


# Times between steps.


def test_median_and_p90_interpolate_linearly() -> None:
    gaps = [40, 10, 30, 20]
    units = [unit(f"u{i}", [pv(0, "/cart"), pv(gap, "/checkout")]) for i, gap in enumerate(gaps)]
    step = run(CART, units).steps[1]
    assert step.median_ms_from_previous == pytest.approx(25.0)
    assert step.p90_ms_from_previous == pytest.approx(37.0)  # numpy: 30 + 0.7 * (40 - 30)


def test_percentiles_of_one_and_of_eleven_values() -> None:
    single = run(CART, [unit("u", [pv(0, "/cart"), pv(7, "/checkout")])]).steps[1]
    assert (single.median_ms_from_previous, single.p90_ms_from_previous) == (7.0, 7.0)
    units = [unit(f"u{i}", [pv(0, "/cart"), pv(i * 10, "/checkout")]) for i in range(11)]
    step = run(CART, units).steps[1]
    assert (step.median_ms_from_previous, step.p90_ms_from_previous) == (50.0, 90.0)


# Drop-offs.


def test_dropped_units_content_and_order() -> None:
    definition = FunnelDefinition((page("/a"), page("/b"), page("/c")))
    result = run(
        definition,
        [
            unit("z", [pv(20, "/a", session="sz")]),
            unit("y", [pv(0, "/a"), pv(20, "/b", session="sy")]),
            unit("b", [pv(10, "/a", session="sb")]),
            unit("a", [pv(10, "/a", session="sa")]),
            unit("done", [pv(0, "/a"), pv(1, "/b"), pv(2, "/c")]),
            unit("never", [pv(0, "/c")]),
        ],
    )
    first, second, third = result.steps
    assert first.dropped_units == []
    assert second.dropped_units == [
        DroppedUnit("a", "sa", at(10)),
        DroppedUnit("b", "sb", at(10)),
        DroppedUnit("z", "sz", at(20)),
    ]
    assert second.dropped == 3
    assert third.dropped_units == [DroppedUnit("y", "sy", at(20))]


def test_dropped_visitor_points_at_the_session_of_the_last_step() -> None:
    definition = FunnelDefinition((page("/a"), page("/b"), page("/c")))
    events = [pv(0, "/a", session="first"), pv(100, "/b", session="second"), pv(200, "/a")]
    result = run(definition, [unit("v1", events, session="fallback")])
    assert result.steps[2].dropped_units == [DroppedUnit("v1", "second", at(100))]
    no_session = [{"kind": "page_view", "at": at(0), "path": "/a"}]
    result = run(definition, [unit("v2", no_session, session="fallback")])
    assert result.steps[1].dropped_units == [DroppedUnit("v2", "fallback", at(0))]


def test_dropped_units_are_capped_and_keep_the_earliest() -> None:
    units = [unit(f"u{i:03}", [pv(1000 - i, "/cart")]) for i in range(250)]
    result = run(CART, units, drop_off_sample=7)
    dropped = result.steps[1].dropped_units
    assert result.steps[1].dropped == 250
    assert [d.unit_id for d in dropped] == [f"u{i:03}" for i in range(249, 242, -1)]
    assert run(CART, units, drop_off_sample=0).steps[1].dropped_units == []


# Validation.


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        (FunnelDefinition((page("/a"),)), "a funnel needs at least 2 steps, got 1"),
        (FunnelDefinition((page("/a"),) * 21), "a funnel has at most 20 steps, got 21"),
        (
            FunnelDefinition((page("/a"), page("/b")), conversion_window_ms=MAX_WINDOW_MS + 1),
            "conversion window must be between 1 ms and 90 days (7776000000 ms), got 7776000001",
        ),
        (
            FunnelDefinition((page("/a"), page("/b")), conversion_window_ms=0),
            "conversion window must be between 1 ms and 90 days (7776000000 ms), got 0",
        ),
        (
            FunnelDefinition(
                (
                    page("/a"),
                    Step(
                        EventType.PAGE_VIEW,
                        StepMatcher(url=UrlMatcher("url", MatchOp.REGEX, "(shop")),
                    ),
                )
            ),
            "step 2: url regex '(shop' is invalid: missing ): (shop",
        ),
        (
            FunnelDefinition(
                (
                    page("/a"),
                    Step(
                        EventType.PAGE_VIEW,
                        StepMatcher(url=UrlMatcher("path", MatchOp.REGEX, "a" * 501)),
                    ),
                )
            ),
            "step 2: path regex is too long (501 characters, at most 500)",
        ),
        (
            FunnelDefinition((page("/a"), page("/b", max_ms_from_previous=0))),
            "step 2: max_ms_from_previous must be between 1 ms and 90 days (7776000000 ms), got 0",
        ),
        (
            FunnelDefinition((page("/a", max_ms_from_previous=5), page("/b"))),
            "step 1: max_ms_from_previous is not allowed, step 1 has no previous step",
        ),
        (
            FunnelDefinition(
                (page("/a", exclusions=(Exclusion(EventType.ERROR, StepMatcher()),)), page("/b"))
            ),
            "step 1: exclusions are not allowed, step 1 has no previous step",
        ),
        (
            FunnelDefinition(
                (
                    page("/a"),
                    page("/b"),
                    page(
                        "/c",
                        exclusions=(
                            Exclusion(
                                EventType.PAGE_VIEW,
                                StepMatcher(url=UrlMatcher("url", MatchOp.REGEX, "[")),
                            ),
                        ),
                    ),
                )
            ),
            "step 3 exclusion 1: url regex '[' is invalid: missing ]: [",
        ),
        (FunnelDefinition((page("/a"), page(""))), "step 2: path value must not be empty"),
        (
            FunnelDefinition((page("/a"), Step(EventType.CLICK, StepMatcher(selector="b" * 1001)))),
            "step 2: selector is too long (1001 characters, at most 1000)",
        ),
        (
            FunnelDefinition((page("/a"), Step("rage_click"))),  # type: ignore[arg-type]
            "step 2: unknown event type 'rage_click'; expected one of page_view, click, input, "
            "submit, custom, error",
        ),
        (
            FunnelDefinition((page("/a"), Step(EventType.CLICK, label=""))),
            "step 2: label must not be empty",
        ),
        (
            FunnelDefinition(
                (
                    page("/a"),
                    Step(
                        EventType.PAGE_VIEW,
                        StepMatcher(url=UrlMatcher("host", MatchOp.EQUALS, "x")),  # type: ignore[arg-type]
                    ),
                )
            ),
            "step 2: url field must be 'url' or 'path', got 'host'",
        ),
    ],
)
def test_validation_messages(definition: FunnelDefinition, message: str) -> None:
    with pytest.raises(FunnelError, match=f"^{re.escape(message)}$"):
        definition.validate()
    with pytest.raises(FunnelError):
        FunnelAccumulator(definition)


def test_valid_limits_pass() -> None:
    longest = UrlMatcher("path", MatchOp.REGEX, "a" * 500)
    definition = FunnelDefinition(
        (page("/a"),) * 19 + (Step(EventType.PAGE_VIEW, StepMatcher(url=longest)),),
        conversion_window_ms=MAX_WINDOW_MS,
    )
    assert definition.validate() is definition
    assert issubclass(FunnelError, ValueError)


def test_drop_off_sample_must_not_be_negative() -> None:
    with pytest.raises(FunnelError, match="drop_off_sample must be 0 or more, got -1"):
        FunnelAccumulator(CART, drop_off_sample=-1)


def test_labels() -> None:
    definition = FunnelDefinition(
        (
            Step(EventType.PAGE_VIEW, path_is("/cart"), label="Cart"),
            Step(EventType.CLICK, StepMatcher(selector="button.pay", text_contains="Pay")),
            Step(EventType.CUSTOM),
        )
    )
    labels = [step.label for step in run(definition, []).steps]
    assert labels == [
        "Cart",
        "click where selector 'button.pay' and text contains 'Pay'",
        "custom",
    ]


# Matching.


def matches(step: Step, event: Mapping[str, Any]) -> bool:
    definition = FunnelDefinition((step, Step(EventType.ERROR)))
    return best_attempt(definition, [{"at": T0, **event}]) == (0,)


URL = "https://shop.example/Products/42?ref=mail"


@pytest.mark.parametrize(
    ("matcher", "event", "expected"),
    [
        (UrlMatcher("url", MatchOp.EQUALS, URL), {"url": URL}, True),
        (UrlMatcher("url", MatchOp.EQUALS, URL), {"url": URL + "&x=1"}, False),
        (UrlMatcher("url", MatchOp.CONTAINS, "/Products/"), {"url": URL}, True),
        (UrlMatcher("url", MatchOp.CONTAINS, "/products/"), {"url": URL}, False),
        (UrlMatcher("url", MatchOp.REGEX, r"/Products/\d+"), {"url": URL}, True),
        (UrlMatcher("url", MatchOp.REGEX, r"^/Products"), {"url": URL}, False),
        (UrlMatcher("path", MatchOp.EQUALS, "/Products/42"), {"path": "/Products/42"}, True),
        (UrlMatcher("path", MatchOp.CONTAINS, "42"), {"path": "/Products/42"}, True),
        (UrlMatcher("path", MatchOp.REGEX, r"^/Products/\d+$"), {"path": "/Products/42"}, True),
        (UrlMatcher("path", MatchOp.REGEX, r"^/Products/\d+$"), {"path": "/Products/x"}, False),
        (UrlMatcher("path", MatchOp.EQUALS, "/Products/42"), {"url": URL}, False),
        (UrlMatcher("path", MatchOp.CONTAINS, "/"), {"path": None}, False),
        (UrlMatcher("path", MatchOp.REGEX, "."), {"path": 42}, False),
        (UrlMatcher("url", MatchOp.CONTAINS, "shop"), {}, False),
    ],
)
def test_url_matchers(matcher: UrlMatcher, event: Event, expected: bool) -> None:
    step = Step(EventType.PAGE_VIEW, StepMatcher(url=matcher))
    assert matches(step, {"kind": "page_view", **event}) is expected


@pytest.mark.parametrize(
    ("matcher", "event", "expected"),
    [
        (StepMatcher(selector="button.buy"), {"selector": "button.buy"}, True),
        (StepMatcher(selector="button.buy"), {"selector": "button.buy.big"}, True),
        (
            StepMatcher(selector="button.buy", selector_match=SelectorMatch.EXACT),
            {"selector": "button.buy.big"},
            False,
        ),
        (StepMatcher(selector="button.buy"), {"selector": None}, False),
        (StepMatcher(text_contains="buy now"), {"text": "Click to BUY NOW!"}, True),
        (StepMatcher(text_contains="buy now"), {"text": "Buy later"}, False),
        (StepMatcher(text_contains="buy"), {}, False),
        (StepMatcher(text_contains="straße"), {"text": "STRASSE"}, True),
        (
            StepMatcher(selector="button.buy", text_contains="buy"),
            {"selector": "button.buy", "text": "Buy"},
            True,
        ),
        (
            StepMatcher(selector="button.buy", text_contains="buy"),
            {"selector": "button.buy", "text": "Pay"},
            False,
        ),
        (StepMatcher(), {}, True),
    ],
)
def test_click_matchers(matcher: StepMatcher, event: Event, expected: bool) -> None:
    assert matches(Step(EventType.CLICK, matcher), {"kind": "click", **event}) is expected


def test_name_and_kind() -> None:
    signup = Step(EventType.CUSTOM, StepMatcher(name="signup"))
    assert matches(signup, {"kind": "custom", "name": "signup"})
    assert not matches(signup, {"kind": "custom", "name": "Signup"})
    assert not matches(signup, {"kind": "custom"})
    assert not matches(signup, {"kind": "click", "name": "signup"})
    any_click = Step(EventType.CLICK)
    assert matches(any_click, {"kind": "click"})
    assert not matches(any_click, {"kind": "rage_click"})
    assert not matches(any_click, {"kind": None})
    assert not matches(any_click, {})
    error = Step(EventType.ERROR, StepMatcher(text_contains="x"))
    assert not matches(error, {"kind": "error", "message": "x"})


def test_malformed_events_are_ignored() -> None:
    events: list[Any] = [
        None,
        {"kind": "page_view", "path": "/cart"},
        {"kind": "page_view", "path": "/cart", "at": "2025-03-01T12:00:00Z"},
        {"kind": "page_view", "path": "/cart", "at": None},
        {"kind": 3, "at": T0},
        {"at": T0, "path": "/checkout"},
        {"kind": "page_view", "at": T0, "path": "/cart", "url": None, "text": 5},
        {
            "kind": "page_view",
            "at": (T0 + timedelta(seconds=1)).replace(tzinfo=None),
            "path": "/checkout",
        },
    ]
    result = run(CART, [unit("u1", events)])
    assert result.total_units == 1
    assert entered(result) == [1, 1]
    assert result.steps[1].median_ms_from_previous == 1000.0


def test_times_count_in_whole_milliseconds_as_the_database_stores_them() -> None:
    # BSON keeps a datetime's whole milliseconds and drops the rest (core.epoch), so a
    # funnel over events in memory counts what the same events would count once stored.
    definition = FunnelDefinition((page("/cart"), page("/checkout")), conversion_window_ms=1)
    late = {**pv(0, "/checkout"), "at": T0 + timedelta(microseconds=1999)}
    assert one(definition, [pv(0, "/cart"), late]) == [1, 1]
    later = {**late, "at": T0 + timedelta(microseconds=2000)}
    assert one(definition, [pv(0, "/cart"), later]) == [1, 0]


# The exact search against every combination of events.

KINDS = ("page_view", "click", "custom")
PATHS = ("/a", "/b")


def random_matcher(rng: random.Random) -> StepMatcher:
    path = rng.choice((None, *PATHS))
    return path_is(path) if path else StepMatcher()


def random_step(rng: random.Random, first: bool) -> Step:
    exclusions = tuple(
        Exclusion(EventType(rng.choice(KINDS)), random_matcher(rng))
        for _ in range(0 if first else rng.choice((0, 0, 1, 2)))
    )
    max_ms = None if first else rng.choice((None, None, rng.randint(1, 25)))
    return Step(
        EventType(rng.choice(KINDS)),
        random_matcher(rng),
        max_ms_from_previous=max_ms,
        exclusions=exclusions,
    )


def random_case(rng: random.Random) -> tuple[FunnelDefinition, list[Event]]:
    steps = tuple(random_step(rng, i == 0) for i in range(rng.randint(2, 4)))
    definition = FunnelDefinition(steps, conversion_window_ms=rng.randint(1, 60))
    times = sorted(rng.randint(0, 50) for _ in range(rng.randint(0, 10)))
    events = [ev(rng.choice(KINDS), t, path=rng.choice(PATHS)) for t in times]
    return definition, events


def plain_match(kind: str, matcher: StepMatcher, event: Mapping[str, Any]) -> bool:
    url = matcher.url
    return event["kind"] == kind and (url is None or event.get(url.field) == url.value)


def valid_path(
    definition: FunnelDefinition, events: Sequence[Mapping[str, Any]], path: tuple[int, ...]
) -> bool:
    ms = [(events[i]["at"] - T0) // timedelta(milliseconds=1) for i in path]
    if ms[-1] - ms[0] > definition.conversion_window_ms:
        return False
    for step_index, (position, step) in enumerate(zip(path, definition.steps, strict=False)):
        if not plain_match(step.type, step.matcher, events[position]):
            return False
        if step_index == 0:
            continue
        previous = path[step_index - 1]
        limit = step.max_ms_from_previous
        if limit is not None and ms[step_index] - ms[step_index - 1] > limit:
            return False
        between = events[previous + 1 : position]
        if any(plain_match(x.type, x.matcher, e) for x in step.exclusions for e in between):
            return False
    return True


def brute_force(
    definition: FunnelDefinition, events: Sequence[Mapping[str, Any]]
) -> tuple[int, ...]:
    """Every combination of events for every number of steps; the longest valid one, earliest
    start first, then earliest events (the lexicographically smallest)."""
    valid = [
        path
        for size in range(1, len(definition.steps) + 1)
        for path in itertools.combinations(range(len(events)), size)
        if valid_path(definition, events, path)
    ]
    if not valid:
        return ()
    depth = max(len(path) for path in valid)
    return min(path for path in valid if len(path) == depth)


def linear_percentile(values: list[int], share: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    if share == 0.5:
        return float(statistics.median(values))
    return statistics.quantiles(values, n=10, method="inclusive")[8]


@pytest.mark.parametrize("seed", range(6))
def test_exact_search_matches_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(100):
        definition, events = random_case(rng)
        assert best_attempt(definition, events) == brute_force(definition, events), (
            definition,
            events,
        )


@pytest.mark.parametrize("seed", range(3))
def test_accumulated_numbers_match_brute_force(seed: int) -> None:
    rng = random.Random(1000 + seed)
    definition, _ = random_case(rng)
    units = [unit(f"u{i}", random_case(rng)[1]) for i in range(200)]
    result = run(definition, units)
    paths = [brute_force(definition, u.events) for u in units]
    for index, step in enumerate(result.steps):
        reached = [p for p in paths if len(p) > index]
        assert step.entered == len(reached)
        gaps = sorted(
            (u.events[p[index]]["at"] - u.events[p[index - 1]]["at"]) // timedelta(milliseconds=1)
            for u, p in zip(units, paths, strict=True)
            if len(p) > index and index
        )
        expected_median = linear_percentile(gaps, 0.5)
        expected_p90 = linear_percentile(gaps, 0.9)
        assert step.median_ms_from_previous == pytest.approx(expected_median)
        assert step.p90_ms_from_previous == pytest.approx(expected_p90)
    assert result.total_units == sum(1 for u in units if u.events)
