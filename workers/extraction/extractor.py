"""One session's rrweb event stream, fed in order, turned into derived events.

The extractor keeps the state of the current page only (the recorded DOM, URL, viewport,
scroll, pending signals), so it can be fed a long session chunk by chunk: feeding the events
in any number of calls gives the same events, with the same keys, as feeding them at once.
What it derives:

- page_view: every Meta event (a page load; a checkout's Meta counts too, since the stream
  cannot tell it from a reload) and every `sightline.navigation` to a URL other than the
  current one.
- click: every MouseInteraction Click. Taps count too, because browsers follow a TouchEnd with
  a Click; DblClick (which follows two Clicks), ContextMenu and TouchEnd are not counted again.
  A click on an unknown or blocked node still counts, without selector.
- input: the first Input event of each edit run on a field (a run ends at a focus or blur, an
  input on another field or a new page), with the field's selector, label text and type, and
  never its value. Automatic unchecks of the other radios of a group and Input events marked
  `userTriggered: false` are not inputs.
- submit: a click on a submit control inside a form (a button of type submit, the default, or
  an input of type submit or image), as the form's selector. This counts attempts: rrweb cannot
  tell whether validation stopped the submit, and a submit by the Enter key makes no click.
  A `sightline.submit` custom event with `{"selector": ...}` counts too, unless it follows a
  submit click within SUBMIT_DEDUPE_MS (the same submission seen twice).
- scroll: one per page view, stamped with the page view's start so that its key stays the same
  as the page goes on: the deepest `scroll y + viewport height` reached, and its share of the
  document height once a `sightline.page` event reported it. Emitted when the page changes and
  at `finish`.
- custom (`sightline.track`), error (`sightline.error`), and the rage, dead and error clicks of
  `workers.extraction.signals`. Clicks on form fields, labels (or inside one), html and body,
  and clicks on unknown nodes, are never dead: focusing a field is its own feedback, and a
  click on the page background is no promise of a reaction.

Malformed events, unknown types and ids, and out-of-order timestamps are skipped or tolerated,
never raised on. An event without a usable timestamp still updates the recorded DOM. Should an
event still make a handler fail, it is skipped with an `extraction.bad_event` log line and the
rest of the stream is extracted: one odd event must not stop a session's extraction for good.
"""

from collections.abc import Callable, Iterable
from typing import Any

from core.derived_events import DerivedEvent, Kind
from core.json_size import MAX_JSON_VALUE_BYTES, serialized_size
from core.logs import get_logger
from core.rrweb import tags
from core.rrweb.dom import NodeTable, as_node_id
from core.rrweb.events import EventType, IncrementalSource, MouseInteraction
from core.signal_settings import SignalSettings
from workers.extraction.page import Page
from workers.extraction.selector import (
    Target,
    closest,
    describe,
    element_path,
    field_type,
    selector_of,
    submitted_form,
)
from workers.extraction.signals import DeadClicks, ErrorClicks, RageClicks
from workers.extraction.values import number, point, positive_int, storable, text, timestamp

MAX_URL_LENGTH = 4096
MAX_NAME_LENGTH = 200
MAX_MESSAGE_LENGTH = 2000
MAX_SELECTOR_LENGTH = 1000
SUBMIT_DEDUPE_MS = 1000
TARGET_CACHE_SIZE = 1024
DEFAULT_SETTINGS = SignalSettings()

_NEVER_DEAD_TAGS = frozenset({"input", "textarea", "select", "option", "label", "html", "body"})
_DEFAULT_DOCUMENT_ID = 1

Handler = Callable[[int, dict[str, Any]], None]
log = get_logger(__name__)


class Ordinals:
    """Numbers events of one kind at one millisecond 0, 1, 2… in stream order.

    Counters more than HORIZON_MS older than the latest timestamp are forgotten when the table
    grows, to bound memory: only an event more than that far out of order that lands on the
    very millisecond and kind of an earlier one could then reuse a key.
    """

    HORIZON_MS = 10 * 60 * 1000
    MIN_SIZE = 4096

    def __init__(self) -> None:
        self._counts: dict[tuple[int, str], int] = {}
        self._latest: int | None = None
        self._limit = self.MIN_SIZE

    def next(self, kind: Kind, at: int) -> int:
        key = (at, kind.value)
        ordinal = self._counts.get(key, 0)
        self._counts[key] = ordinal + 1
        self._latest = at if self._latest is None else max(self._latest, at)
        if len(self._counts) > self._limit:
            self._prune(self._latest - self.HORIZON_MS)
        return ordinal

    def _prune(self, oldest: int) -> None:
        self._counts = {key: n for key, n in self._counts.items() if key[0] >= oldest}
        self._limit = max(self.MIN_SIZE, 2 * len(self._counts))


class Extractor:
    """Derived events of one session: `feed` the events in stream order, then `finish`.

    `finish(final=False)` (the session may still get data) returns the scroll depth of the
    current page and the rage click in progress, and leaves the clicks whose dead-click window
    the data does not cover undecided; it changes nothing, so feeding may go on after it.
    `finish(final=True)` decides everything with the data there is and ends the extractor.
    Events returned by different calls never share a key, except the scroll depth and rage
    click that `finish(final=False)` reports, which a later call may report again, updated.
    """

    def __init__(self, settings: SignalSettings = DEFAULT_SETTINGS) -> None:
        self.settings = settings.validate()
        self._table = NodeTable()
        self._targets: dict[int, Target | None] = {}
        self._document_id = _DEFAULT_DOCUMENT_ID
        self._page: Page | None = None
        self._now: int | None = None
        self._ordinals = Ordinals()
        self._rage = RageClicks(settings)
        self._dead = DeadClicks(settings)
        self._errors = ErrorClicks(settings)
        self._typing_in: int | None = None
        self._last_click_submit: int | None = None
        self._finished = False
        self._out: list[DerivedEvent] = []
        self._handlers: dict[int, Handler] = {
            EventType.FullSnapshot: self._on_full_snapshot,
            EventType.IncrementalSnapshot: self._on_incremental,
            EventType.Meta: self._on_meta,
            EventType.Custom: self._on_custom,
        }
        self._sources: dict[int, Handler] = {
            IncrementalSource.Mutation: self._on_mutation,
            IncrementalSource.MouseInteraction: self._on_mouse,
            IncrementalSource.Scroll: self._on_scroll,
            IncrementalSource.ViewportResize: self._on_resize,
            IncrementalSource.Input: self._on_input,
            IncrementalSource.Selection: self._on_selection,
        }
        self._custom: dict[str, Handler] = {
            tags.TRACK: self._on_track,
            tags.ERROR: self._on_error,
            tags.NAVIGATION: self._on_navigation,
            tags.PAGE: self._on_page_report,
            tags.SUBMIT: self._on_submit_report,
        }

    def feed(self, events: Iterable[Any]) -> list[DerivedEvent]:
        """The derived events that the next events of the stream make final."""
        self._check_open()
        for event in events:
            try:
                self._handle(event)
            except Exception as exc:
                log.warning("extraction.bad_event", error=type(exc).__name__, detail=str(exc)[:200])
        return self._take()

    def finish(self, final: bool) -> list[DerivedEvent]:
        """The derived events still pending at the end of the data (see the class docstring)."""
        self._check_open()
        if final:
            self._finished = True
            self._emit(self._rage.close())
            self._out.extend(self._dead.close())
        else:
            self._emit(self._rage.peek())
        if self._page is not None:
            self._emit(self._page.scroll_event())
        return self._take()

    # Dispatch

    def _check_open(self) -> None:
        if self._finished:
            raise RuntimeError("This extractor has finished; start a new one.")

    def _take(self) -> list[DerivedEvent]:
        out, self._out = self._out, []
        return out

    def _emit(self, event: DerivedEvent | None) -> None:
        if event is not None:
            self._out.append(event)

    def _handle(self, event: object) -> None:
        if not isinstance(event, dict):
            return
        kind, data = _int_or_none(event.get("type")), event.get("data")
        if kind is None or not isinstance(data, dict):
            return
        at = timestamp(event.get("timestamp"))
        if at is None:
            self._rebuild_only(kind, data)
            return
        self._advance(at)
        handler = self._handlers.get(kind)
        if handler is not None:
            handler(at, data)

    def _rebuild_only(self, kind: int, data: dict[str, Any]) -> None:
        if kind == EventType.FullSnapshot:
            self._load_snapshot(data)
        elif (
            kind == EventType.IncrementalSnapshot
            and data.get("source") == IncrementalSource.Mutation
        ):
            self._apply_mutation(data)

    def _advance(self, at: int) -> None:
        self._now = at if self._now is None else max(self._now, at)
        self._out.extend(self._dead.expire(self._now))
        self._emit(self._rage.expire(self._now))

    def _on_incremental(self, at: int, data: dict[str, Any]) -> None:
        source = _int_or_none(data.get("source"))
        handler = None if source is None else self._sources.get(source)
        if handler is not None:
            handler(at, data)

    def _on_custom(self, at: int, data: dict[str, Any]) -> None:
        tag, payload = data.get("tag"), data.get("payload")
        handler = self._custom.get(tag) if isinstance(tag, str) else None
        if handler is not None:
            handler(at, payload if isinstance(payload, dict) else {})

    # Pages

    def _page_at(self, at: int) -> Page:
        """The current page; a page without URL when the stream did not start with a Meta."""
        if self._page is None:
            self._page = Page(at, self._ordinals.next(Kind.SCROLL, at))
        return self._page

    def _on_meta(self, at: int, data: dict[str, Any]) -> None:
        self._leave_page(at)
        self._errors.forget()
        page = Page(
            at, self._ordinals.next(Kind.SCROLL, at), url=text(data.get("href"), MAX_URL_LENGTH)
        )
        size = _size(data)
        if size is not None:
            page.resize(*size)
        self._enter(page, at)

    def _on_navigation(self, at: int, payload: dict[str, Any]) -> None:
        href = text(payload.get("href"), MAX_URL_LENGTH)
        current = self._page_at(at)
        if href is None or href == current.url:
            return
        self._leave_page(at)
        self._enter(current.following(at, self._ordinals.next(Kind.SCROLL, at), href), at)

    def _leave_page(self, at: int) -> None:
        if self._page is not None:
            self._emit(self._page.scroll_event())
        self._emit(self._rage.close())
        self._dead.feedback(at)
        self._typing_in = None

    def _enter(self, page: Page, at: int) -> None:
        self._page = page
        self._emit(page.event(Kind.PAGE_VIEW, at, self._ordinals.next(Kind.PAGE_VIEW, at)))

    def _on_full_snapshot(self, at: int, data: dict[str, Any]) -> None:
        self._load_snapshot(data)
        self._typing_in = None
        page = self._page_at(at)
        offset = data.get("initialOffset")
        if isinstance(offset, dict):
            page.scroll_to(number(offset.get("left")) or 0.0, number(offset.get("top")) or 0.0)

    def _load_snapshot(self, data: dict[str, Any]) -> None:
        node = data.get("node")
        self._table.apply_full_snapshot(node)
        self._targets.clear()
        root = as_node_id(node.get("id")) if isinstance(node, dict) else None
        self._document_id = _DEFAULT_DOCUMENT_ID if root is None else root

    def _on_scroll(self, at: int, data: dict[str, Any]) -> None:
        self._dead.quick_feedback(at)
        position = point(data)
        if position is not None and as_node_id(data.get("id")) == self._document_id:
            self._page_at(at).scroll_to(*position)

    def _on_resize(self, at: int, data: dict[str, Any]) -> None:
        size = _size(data)
        if size is not None:
            self._page_at(at).resize(*size)

    def _on_page_report(self, at: int, payload: dict[str, Any]) -> None:
        height = positive_int(payload.get("scrollHeight"))
        if height is not None:
            self._page_at(at).page_height = height

    # DOM changes

    def _on_mutation(self, at: int, data: dict[str, Any]) -> None:
        self._apply_mutation(data)
        self._dead.feedback(at)

    def _apply_mutation(self, data: dict[str, Any]) -> None:
        self._table.apply_mutation(data)
        self._targets.clear()

    def _on_selection(self, at: int, data: dict[str, Any]) -> None:
        self._dead.quick_feedback(at)

    # Clicks and inputs

    def _on_mouse(self, at: int, data: dict[str, Any]) -> None:
        kind = _int_or_none(data.get("type"))
        if kind == MouseInteraction.Click:
            self._on_click(at, data)
        elif kind in (MouseInteraction.Focus, MouseInteraction.Blur):
            self._typing_in = None

    def _on_click(self, at: int, data: dict[str, Any]) -> None:
        page = self._page_at(at)
        node_id = as_node_id(data.get("id"))
        target = self._describe(node_id)
        client = point(data)
        where = {} if client is None else {"x": page.page_x(client[0]), "y": page.page_y(client[1])}
        ordinal = self._ordinals.next(Kind.CLICK, at)
        click = page.target_event(Kind.CLICK, at, ordinal, target, **where)
        self._emit(click)
        self._emit(self._rage.add(click, client))
        self._errors.add(click)
        self._dead.add(click, node_id, self._can_be_dead(target))
        if target is not None:
            self._submit_by_click(at, page, target)

    def _describe(self, node_id: int | None) -> Target | None:
        """The node's description, cached until the DOM changes (rage clicks, long lists)."""
        if node_id is None:
            return None
        if node_id in self._targets:
            return self._targets[node_id]
        if len(self._targets) >= TARGET_CACHE_SIZE:
            self._targets.clear()
        target = describe(self._table, node_id, self.settings.max_text_length)
        self._targets[node_id] = target
        return target

    def _can_be_dead(self, target: Target | None) -> bool:
        if target is None or target.tag in _NEVER_DEAD_TAGS:
            return False
        return closest(self._table, target.node_id, ("label",)) is None

    def _submit_by_click(self, at: int, page: Page, target: Target) -> None:
        form = submitted_form(self._table, target.node_id)
        if form is None:
            return
        self._last_click_submit = at
        selector = selector_of(self._table, form.id)
        path = element_path(self._table, form.id)
        ordinal = self._ordinals.next(Kind.SUBMIT, at)
        self._emit(
            page.event(
                Kind.SUBMIT, at, ordinal, selector=selector, element_path=path, tag=form.tag_name
            )
        )

    def _on_submit_report(self, at: int, payload: dict[str, Any]) -> None:
        last = self._last_click_submit
        if last is not None and 0 <= at - last <= SUBMIT_DEDUPE_MS:
            return
        selector = text(payload.get("selector"), MAX_SELECTOR_LENGTH)
        page = self._page_at(at)
        self._emit(
            page.event(Kind.SUBMIT, at, self._ordinals.next(Kind.SUBMIT, at), selector=selector)
        )

    def _on_input(self, at: int, data: dict[str, Any]) -> None:
        self._dead.feedback(at)
        node_id = as_node_id(data.get("id"))
        if node_id is None or node_id == self._typing_in or data.get("userTriggered") is False:
            return
        node = self._table.get(node_id)
        if node is not None and field_type(node) == "radio" and data.get("isChecked") is False:
            return
        self._typing_in = node_id
        ordinal = self._ordinals.next(Kind.INPUT, at)
        self._emit(self._page_at(at).target_event(Kind.INPUT, at, ordinal, self._describe(node_id)))

    # Custom events

    def _on_track(self, at: int, payload: dict[str, Any]) -> None:
        name = text(payload.get("name"), MAX_NAME_LENGTH)
        if name is None:
            return
        properties = payload.get("properties")
        self._emit(
            self._page_at(at).event(
                Kind.CUSTOM,
                at,
                self._ordinals.next(Kind.CUSTOM, at),
                name=name,
                properties=_capped(storable(properties)) if isinstance(properties, dict) else None,
            )
        )

    def _on_error(self, at: int, payload: dict[str, Any]) -> None:
        message = text(payload.get("message"), MAX_MESSAGE_LENGTH)
        ordinal = self._ordinals.next(Kind.ERROR, at)
        self._emit(self._page_at(at).event(Kind.ERROR, at, ordinal, message=message))
        self._emit(self._errors.error(at))


def _capped(properties: object) -> object:
    """Properties over the size cap are dropped: the event keeps its name and time."""
    return properties if serialized_size(properties) <= MAX_JSON_VALUE_BYTES else None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _size(data: dict[str, Any]) -> tuple[int, int] | None:
    width, height = positive_int(data.get("width")), positive_int(data.get("height"))
    return None if width is None or height is None else (width, height)
