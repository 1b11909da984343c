"""A funnel's definition in GraphQL: the step, exclusion and URL inputs that become a
`core.funnels.FunnelDefinition`, and the types that show a saved definition back."""

from enum import StrEnum
from typing import Protocol

import strawberry

from core import funnels as core
from core.funnels import EventType, MatchOp
from graph.errors import UserError
from graph.selectors import SelectorMatch

strawberry.enum(EventType, name="FunnelEventType", description="What a funnel step matches.")
strawberry.enum(MatchOp, name="UrlMatchOp", description="How a URL or path is compared.")


@strawberry.enum(description="Which part of the address a URL condition looks at.")
class UrlField(StrEnum):
    URL = "url"
    PATH = "path"


@strawberry.input(description="A condition on the event's URL or path (`regex`: a search).")
class UrlMatchInput:
    field: UrlField
    op: MatchOp
    value: str

    def to_core(self) -> core.UrlMatcher:
        field = UrlField(self.field)
        return core.UrlMatcher(
            "url" if field == UrlField.URL else "path", MatchOp(self.op), self.value
        )


class _Conditions(Protocol):
    url_match: UrlMatchInput | None
    selector: str | None
    selector_match: SelectorMatch
    text_contains: str | None
    name: str | None


def _matcher(source: _Conditions) -> core.StepMatcher:
    return core.StepMatcher(
        url=source.url_match.to_core() if source.url_match else None,
        selector=source.selector,
        text_contains=source.text_contains,
        name=source.name,
        selector_match=SelectorMatch(source.selector_match),
    )


@strawberry.input(description="An event that must not happen between the previous step and this.")
class FunnelExclusionInput:
    type: EventType
    url_match: UrlMatchInput | None = None
    selector: str | None = None
    selector_match: SelectorMatch = SelectorMatch.CSS
    text_contains: str | None = strawberry.field(default=None, description="Case-insensitive.")
    name: str | None = strawberry.field(default=None, description="A custom event's name.")

    def to_core(self) -> core.Exclusion:
        return core.Exclusion(EventType(self.type), _matcher(self))


@strawberry.input(description="One step: an event type and conditions the event must all meet.")
class FunnelStepInput:
    type: EventType
    url_match: UrlMatchInput | None = None
    selector: str | None = None
    selector_match: SelectorMatch = SelectorMatch.CSS
    text_contains: str | None = strawberry.field(default=None, description="Case-insensitive.")
    name: str | None = strawberry.field(default=None, description="A custom event's name.")
    label: str | None = None
    max_ms_from_previous: float | None = strawberry.field(
        default=None, description="Whole milliseconds, at most 90 days; not for step 1."
    )
    exclusions: list[FunnelExclusionInput] | None = strawberry.field(
        default=None, description="Not for step 1."
    )

    def to_core(self) -> core.Step:
        gap = self.max_ms_from_previous
        return core.Step(
            type=EventType(self.type),
            matcher=_matcher(self),
            label=self.label,
            max_ms_from_previous=None if gap is None else _whole_ms("maxMsFromPrevious", gap),
            exclusions=tuple(item.to_core() for item in self.exclusions or ()),
        )


@strawberry.input(description="2 to 20 steps, in the order they must happen.")
class FunnelDefinitionInput:
    steps: list[FunnelStepInput]
    conversion_window_ms: float | None = strawberry.field(
        default=None, description="Whole milliseconds; 24 hours when left out, at most 90 days."
    )

    def to_core(self) -> core.FunnelDefinition:
        window = self.conversion_window_ms
        try:
            return core.FunnelDefinition(
                steps=tuple(step.to_core() for step in self.steps),
                conversion_window_ms=(
                    core.DEFAULT_WINDOW_MS
                    if window is None
                    else _whole_ms("conversionWindowMs", window)
                ),
            ).validate()
        except core.FunnelError as exc:
            raise UserError(str(exc)) from None


def _whole_ms(name: str, value: float) -> int:
    if not float(value).is_integer():
        raise UserError(f"{name} must be a whole number of milliseconds.")
    return int(value)


@strawberry.type
class UrlMatch:
    field: UrlField
    op: MatchOp
    value: str


def _url_match(matcher: core.StepMatcher) -> UrlMatch | None:
    url = matcher.url
    return UrlMatch(field=UrlField(url.field), op=url.op, value=url.value) if url else None


@strawberry.type
class FunnelExclusion:
    type: EventType
    url_match: UrlMatch | None
    selector: str | None
    selector_match: SelectorMatch
    text_contains: str | None
    name: str | None

    @classmethod
    def of(cls, exclusion: core.Exclusion) -> "FunnelExclusion":
        matcher = exclusion.matcher
        return cls(
            type=exclusion.type,
            url_match=_url_match(matcher),
            selector=matcher.selector,
            selector_match=matcher.selector_match,
            text_contains=matcher.text_contains,
            name=matcher.name,
        )


@strawberry.type(description="One step of a saved funnel, as defined.")
class FunnelStepDefinition:
    type: EventType
    url_match: UrlMatch | None
    selector: str | None
    selector_match: SelectorMatch
    text_contains: str | None
    name: str | None
    label: str | None
    max_ms_from_previous: float | None
    exclusions: list[FunnelExclusion]

    @classmethod
    def of(cls, step: core.Step) -> "FunnelStepDefinition":
        matcher = step.matcher
        return cls(
            type=step.type,
            url_match=_url_match(matcher),
            selector=matcher.selector,
            selector_match=matcher.selector_match,
            text_contains=matcher.text_contains,
            name=matcher.name,
            label=step.label,
            max_ms_from_previous=step.max_ms_from_previous,
            exclusions=[FunnelExclusion.of(item) for item in step.exclusions],
        )
