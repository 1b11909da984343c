"""Each wire constant has one home: rrweb's numbers in `core.rrweb.events`, Sightline's
custom event tags in `core.rrweb.tags`, job ids in `workers.queue`, site privacy defaults in
`storage.sites`, epoch milliseconds in `core.epoch`.

A bare `5` beside `event["type"]`, or a second `"sightline.error"`, compiles and passes
every test until one side is renamed or renumbered; then extraction silently stops
seeing what ingestion stored. These checks read every module of the packages.
"""

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from core.rrweb import events as rrweb
from core.rrweb import tags

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("api", "core", "graph", "service", "storage", "workers")
TAGS_MODULE = ROOT / "core" / "rrweb" / "tags.py"
SNIPPET = ROOT / "api" / "static" / "sightline.js"
# Strings shaped like a tag that are not one: the snippet's file name.
NOT_TAGS = {"sightline.js"}
RRWEB_FIELDS = {"type", "source"}
RRWEB_NAMES = {
    member.name.lower()
    for enum in (rrweb.EventType, rrweb.IncrementalSource, rrweb.MouseInteraction)
    for member in enum
}


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path, ast.parse(path.read_text(), str(path))


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"


def _is_rrweb_field(node: ast.AST) -> bool:
    """`x["type"]`, `x.get("type")` (or "source")."""
    if isinstance(node, ast.Subscript):
        key = node.slice
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        key = node.args[0] if node.func.attr == "get" and node.args else None
    else:
        return False
    return isinstance(key, ast.Constant) and key.value in RRWEB_FIELDS


def _int_constant(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def _names_an_rrweb_member(name: str) -> bool:
    plain = name.lower().replace("_", "")
    return any(m.startswith(plain) or m.endswith(plain) for m in RRWEB_NAMES if len(plain) > 3)


def test_no_module_compares_an_rrweb_field_with_a_bare_number() -> None:
    found = [
        _where(path, node)
        for path, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and any(map(_is_rrweb_field, [node.left, *node.comparators]))
        and any(map(_int_constant, [node.left, *node.comparators]))
    ]
    assert not found, found


def test_no_module_restates_an_rrweb_number_under_its_own_name() -> None:
    found = [
        f"{_where(path, node)} {target.id}"
        for path, tree in _modules()
        if path.parent != ROOT / "core" / "rrweb"
        for node in tree.body
        if isinstance(node, ast.Assign) and _int_constant(node.value)
        for target in node.targets
        if isinstance(target, ast.Name) and _names_an_rrweb_member(target.id)
    ]
    assert not found, found


def test_custom_event_tags_are_spelled_only_in_their_module() -> None:
    shaped = re.compile(r"sightline\.[a-z_]+")
    found = [
        f"{_where(path, node)} {node.value!r}"
        for path, tree in _modules()
        if path != TAGS_MODULE
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and shaped.fullmatch(node.value)
        and node.value not in NOT_TAGS
    ]
    assert not found, found


def test_the_snippet_records_only_tags_the_server_knows() -> None:
    written = set(re.findall(r"addCustomEvent\(\s*'([^']+)'", SNIPPET.read_text()))
    assert written  # the snippet does record custom events
    assert written <= tags.ALL, written - tags.ALL


def test_job_ids_are_made_only_by_the_queue() -> None:
    """A job id dedupes a job in Redis; two spellings of one would let it run twice."""
    queue_module = ROOT / "workers" / "queue.py"
    found = [
        _where(path, node)
        for path, tree in _modules()
        if path != queue_module
        for node in ast.walk(tree)
        if isinstance(node, ast.keyword) and node.arg in ("job_id", "_job_id")
    ]
    assert not found, found


def test_site_privacy_defaults_are_stated_once() -> None:
    """A reader that restates a default (`.get("anonymize_ip", True)`) keeps its own copy
    when the default changes; every reader goes through `storage.sites.privacy_of`."""
    from storage.sites import DEFAULT_PRIVACY

    home = ROOT / "storage" / "sites.py"
    found = [
        f"{_where(path, node)} {node.args[0].value}"
        for path, tree in _modules()
        if path != home
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and len(node.args) == 2
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value in DEFAULT_PRIVACY
    ]
    assert not found, found


def test_epoch_milliseconds_are_converted_only_by_core_epoch() -> None:
    """`timestamp() * 1000` is a float and can land a millisecond early; a second `DAY_MS`
    or day rounding can disagree with the first. core/epoch.py holds them all."""
    home = ROOT / "core" / "epoch.py"
    conversions = re.compile(
        r"timestamp\(\)\s*\*\s*1000|fromtimestamp\(|^\s*DAY_MS\s*=|(\w+) - \1 % DAY_MS", re.M
    )
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0).strip()}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != home
        for match in conversions.finditer(path.read_text())
    ]
    assert not found, found
