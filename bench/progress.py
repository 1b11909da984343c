"""Progress on the terminal for long benchmark steps (rich), silent when not a terminal.

`make bench` opens one display for the whole suite (`suite`); a step that loops over
something long wraps the loop in `track`, which adds a bar to that display when one
is open and otherwise just iterates.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

T = TypeVar("T")
_active: list[Progress] = []


@contextmanager
def suite(console: Console | None = None) -> Iterator[Progress]:
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        _active.append(progress)
        try:
            yield progress
        finally:
            _active.pop()


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    if not _active:
        yield from items
        return
    progress = _active[-1]
    task: TaskID = progress.add_task(f"  {description}", total=total)
    for item in items:
        yield item
        progress.advance(task)
    progress.update(task, visible=False)
