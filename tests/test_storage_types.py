"""What storage/ hands the other layers is typed: no `dict[str, Any]`, `Document` or `Any`.

Every public function, method and property of every storage module (walked from the
folder, so a new module or function is covered) has its return annotation
resolved and searched, through unions, lists, iterators and tuples, for `Any`,
which is what `Document` (`dict[str, Any]`) and every other untyped shape
contain. A read then returns a TypedDict of the stored document or a value
object, and strict mypy checks each caller's use of its fields. The few
functions whose result is generic by nature are allowed by name, with the
reason. The search is run on small examples first, so it cannot pass by
finding nothing.
"""

import importlib
import inspect
import pkgutil
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, NotRequired, TypedDict, get_args, get_type_hints

import pytest

import storage
from storage.database import Document

_DRIVER = "the driver's own client, database or options: the engine layer, of plain documents"
_QUERY = "a filter or command in MongoDB's query language, handed back to the driver"
_RRWEB = "rrweb events: JSON as the browser sent it (core.codec), whatever rrweb puts in it"
_REWORKED = (
    "events and heatmap rollups are being re-laid for issue 15 in a parallel change "
    "(the per-event collection may go): typed with their new layout"
)
# Functions whose result is generic on purpose, and why.
GENERIC: dict[str, str] = {
    "storage.database.create_client": _DRIVER,
    "storage.database.database_of": _DRIVER,
    "storage.engine.client_options": _DRIVER,
    "storage.engine.open_client": _DRIVER,
    "storage.events.build_query": _QUERY,
    "storage.hot_queries.HotQuery.find": _QUERY,
    "storage.session_search.build_query": _QUERY,
    "storage.visitors.received_before": _QUERY,
    "storage.recording_stream.iter_session_events": _RRWEB,
    "storage.recording_stream.pieces_events": _RRWEB,
    "storage.recording_stream.whole_pieces": _RRWEB,
    "storage.events.event_document": _REWORKED,
    "storage.events.search_events": _REWORKED,
    "storage.events.SessionEvents.not_rolled_up": _REWORKED,
    "storage.heatmaps.BucketKey.identity": _REWORKED,
    "storage.heatmaps.fetch": _REWORKED,
    "storage.heatmaps.to_document": _REWORKED,
}


def untyped(annotation: object) -> bool:
    """Whether `Any` appears in a type, through its arguments but not into named types
    (a TypedDict's or a dataclass's fields say what they hold)."""
    if annotation is Any:
        return True
    return any(untyped(arg) for arg in get_args(annotation) if arg is not Ellipsis)


def _functions() -> Iterator[tuple[str, Callable[..., object]]]:
    for info in pkgutil.iter_modules(storage.__path__):
        module = importlib.import_module(f"storage.{info.name}")
        for name, value in vars(module).items():
            if name.startswith("_") or getattr(value, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(value):
                yield f"{module.__name__}.{name}", value
            elif inspect.isclass(value):
                for method, member in vars(value).items():
                    function = member.fget if isinstance(member, property) else member
                    if not method.startswith("_") and inspect.isfunction(function):
                        yield f"{module.__name__}.{name}.{method}", function


class _Typed(TypedDict):
    name: str
    extra: NotRequired[dict[str, Any]]


@pytest.mark.parametrize(
    "annotation",
    [Any, Document, Document | None, list[Document], AsyncIterator[Document],
     tuple[int, Document], dict[str, list[Any]], Callable[..., Any]],
)  # fmt: skip
def test_the_search_finds_each_untyped_shape(annotation: object) -> None:
    assert untyped(annotation), annotation


@pytest.mark.parametrize(
    "annotation",
    [None, int, _Typed, _Typed | None, list[_Typed], AsyncIterator[_Typed],
     tuple[str, ...], dict[str, int], set[tuple[str, str]]],
)  # fmt: skip
def test_the_search_passes_typed_shapes(annotation: object) -> None:
    assert not untyped(annotation), annotation


def test_storage_returns_typed_values() -> None:
    functions = dict(_functions())
    assert len(functions) > 150  # the walk found the modules
    assert set(GENERIC) <= set(functions), "an allowed function no longer exists"
    found = [
        f"{name} -> {get_type_hints(function)['return']}"
        for name, function in sorted(functions.items())
        if name not in GENERIC and untyped(get_type_hints(function)["return"])
    ]
    assert found == [], "\n".join(found)
