"""Recordings on disk and hand-built rrweb events for the extraction tests."""

import json
from pathlib import Path
from typing import Any

from core.derived_events import DerivedEvent, Kind
from core.rrweb.dom import NodeTable
from core.rrweb.events import EventType, IncrementalSource, MouseInteraction, NodeType
from core.signal_settings import SignalSettings
from workers.extraction.extractor import Extractor

DATA = Path(__file__).resolve().parent.parent / "data"
T0 = 1_800_000_000_000
URL = "https://shop.example/products?page=2"

Event = dict[str, Any]


def load(name: str) -> list[Event]:
    events: list[Event] = json.loads((DATA / name).read_text())
    return events


def replay(events: list[Event]) -> NodeTable:
    table = NodeTable()
    for event in events:
        if event["type"] == EventType.FullSnapshot:
            table.apply_full_snapshot(event["data"]["node"])
        elif event["type"] == EventType.IncrementalSnapshot and event["data"]["source"] == 0:
            table.apply_mutation(event["data"])
    return table


def extract(
    events: list[Event], settings: SignalSettings | None = None, final: bool = True
) -> list[DerivedEvent]:
    extractor = Extractor(settings or SignalSettings())
    return extractor.feed(events) + extractor.finish(final=final)


def of_kind(events: list[DerivedEvent], kind: Kind) -> list[DerivedEvent]:
    return [event for event in events if event.kind == kind]


def documents(events: list[DerivedEvent]) -> list[dict[str, Any]]:
    return sorted((event.to_document() for event in events), key=lambda doc: doc["key"])


# Nodes


def element(
    tag: str,
    nid: int,
    children: list[Event] | None = None,
    attrs: dict[str, str] | None = None,
    **attributes: str,
) -> Event:
    return {
        "type": NodeType.Element,
        "tagName": tag,
        "attributes": {**(attrs or {}), **attributes},
        "childNodes": children or [],
        "id": nid,
    }


def text(value: str, nid: int) -> Event:
    return {"type": NodeType.Text, "textContent": value, "id": nid}


def document(body_children: list[Event]) -> Event:
    """document 1 > html 2 > body 3 > body_children"""
    html = element("html", 2, [element("body", 3, body_children)])
    return {"type": NodeType.Document, "childNodes": [html], "id": 1}


def page_nodes() -> Event:
    """A small page: button#go (4), a link (6), input#name (8) with a label (9 > span 10),
    a form (12) with a submit input (13) and a plain button (14), a div (17)."""
    return document(
        [
            element("button", 4, [text("Go", 5)], id="go"),
            element("a", 6, [text("Docs", 7)], href="https://shop.example/docs"),
            element("input", 8, id="name", type="text", value="***"),
            element("label", 9, [element("span", 10, [text("Name", 11)])], {"for": "name"}),
            element(
                "form",
                12,
                [
                    element("input", 13, type="submit", value="Send"),
                    element("button", 14, [text("Preview", 15)], type="button"),
                ],
                id="contact",
            ),
            element("div", 17, [text("Just text", 18)], {"class": "panel"}),
        ]
    )


# Events


def meta(at: int, href: str = URL, width: int = 1280, height: int = 800) -> Event:
    return {
        "type": EventType.Meta,
        "data": {"href": href, "width": width, "height": height},
        "timestamp": at,
    }


def snapshot(at: int, node: Event | None = None, top: int = 0) -> Event:
    data = {"node": node or page_nodes(), "initialOffset": {"left": 0, "top": top}}
    return {"type": EventType.FullSnapshot, "data": data, "timestamp": at}


def start(at: int = T0, href: str = URL) -> list[Event]:
    return [meta(at, href), snapshot(at + 1)]


def incremental(at: int, source: int, **data: Any) -> Event:
    return {
        "type": EventType.IncrementalSnapshot,
        "data": {"source": source, **data},
        "timestamp": at,
    }


def click(at: int, nid: int, x: float = 100, y: float = 100) -> Event:
    return incremental(
        at, IncrementalSource.MouseInteraction, type=MouseInteraction.Click, id=nid, x=x, y=y
    )


def focus(at: int, nid: int, blur: bool = False) -> Event:
    kind = MouseInteraction.Blur if blur else MouseInteraction.Focus
    return incremental(at, IncrementalSource.MouseInteraction, type=kind, id=nid)


def mutation(at: int, text_id: int = 18, value: str = "changed") -> Event:
    return incremental(
        at,
        IncrementalSource.Mutation,
        texts=[{"id": text_id, "value": value}],
        attributes=[],
        removes=[],
        adds=[],
    )


def scroll(at: int, y: float, nid: int = 1) -> Event:
    return incremental(at, IncrementalSource.Scroll, id=nid, x=0, y=y)


def typing(at: int, nid: int, value: str, checked: bool = False, **extra: Any) -> Event:
    return incremental(at, IncrementalSource.Input, text=value, isChecked=checked, id=nid, **extra)


def custom(at: int, tag: str, payload: Any) -> Event:
    return {"type": EventType.Custom, "data": {"tag": tag, "payload": payload}, "timestamp": at}


def track(at: int, name: str, **properties: Any) -> Event:
    return custom(at, "sightline.track", {"name": name, "properties": properties})


def error(at: int, message: str = "x is not defined") -> Event:
    payload = {"message": message, "stack": None, "source": None, "line": 1, "column": 2}
    return custom(at, "sightline.error", payload)


def navigation(at: int, href: str) -> Event:
    return custom(at, "sightline.navigation", {"href": href})


def mouse_move(at: int) -> Event:
    positions = [{"x": 1, "y": 1, "id": 3, "timeOffset": 0}]
    return incremental(at, IncrementalSource.MouseMove, positions=positions)
