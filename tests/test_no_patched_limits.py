"""Tests set limits through settings, not by patching a production module's constants.

A limit a test has to change (a timeout, a budget, a cap) is one an operator may have to
change too: it belongs in `core.config.Settings`, with its README row, and the test asks
for it with `settings.model_copy(update=...)`. Patching the module's UPPER_CASE name
instead changes it for every task of the process and hides the knob from operators.
Crash points and fault injection patch functions (lower case), which stays allowed.

This walks every test module for `<monkeypatch>.setattr(...)` of an UPPER_CASE attribute of
`api`, `core`, `graph`, `service`, `storage` or `workers`, given as `"package.module.NAME"`
or as (module, "NAME"); only the constants below, each with why it is not a setting, may be.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

PRODUCTION = ("api", "core", "graph", "service", "storage", "workers")
TESTS = Path(__file__).parent

# (module, constant) -> why tests may patch it.
ALLOWED = {
    ("storage.event_blocks", "FOLD_AT"): (
        "how stored event blocks are laid out (deltas per fold), not a limit an operator "
        "tunes; a test lowers it so a small recording reaches the folding path"
    ),
    ("storage.sessions", "MAX_PAGES"): (
        "the shape of a session document (pages kept in it), not an operator's limit; "
        "a test lowers it to reach the cap with a few batches"
    ),
    ("storage.sessions", "MAX_URLS"): (
        "the shape of a session document (distinct URLs kept in it), as MAX_PAGES"
    ),
    ("storage.erasure", "BATCH_SIZE"): (
        "documents per erasure step, an internal unit of work; a test lowers it so a "
        "crash falls between two batches"
    ),
    ("workers.processing", "FLUSH_EVERY"): (
        "events a processing run extracts before it writes them, an internal unit of work; "
        "a test varies it to show the reads of a run do not grow with its flushes"
    ),
    ("workers.recording_jobs", "OUTBOX_GRACE"): (
        "how long a queued batch waits before the sweeper takes it over; an internal "
        "hand-over delay (left for the worker rework of issue 16), which a test removes "
        "so one sweep sees every batch sent while Redis was down"
    ),
}


def _imported_modules(tree: ast.Module) -> dict[str, str]:
    """Local name -> production module, for `import a.b as c` and `from a import b`."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return {name: module for name, module in names.items() if module.startswith(PRODUCTION)}


def _constant(value: ast.expr) -> str | None:
    return value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None


def _target(call: ast.Call, modules: dict[str, str]) -> tuple[str, str] | None:
    """(module, attribute) a `setattr` call patches, when the test names them literally."""
    args = call.args
    dotted = _constant(args[0]) if args else None
    if dotted is not None and len(args) == 2:  # setattr("package.module.NAME", value)
        module, _, attribute = dotted.rpartition(".")
        return module, attribute
    if len(args) >= 2 and isinstance(args[0], ast.Name) and args[0].id in modules:
        attribute = _constant(args[1])
        return (modules[args[0].id], attribute) if attribute is not None else None
    return None


def patched_constants() -> Iterator[tuple[str, int, str, str]]:
    """(test file, line, module, constant) of each production constant a test patches."""
    for path in sorted(TESTS.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        modules = _imported_modules(tree)
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "setattr"
            ):
                continue
            target = _target(node, modules)
            if target is None:
                continue
            module, attribute = target
            if module.startswith(PRODUCTION) and attribute.isupper():
                yield str(path.relative_to(TESTS.parent)), node.lineno, module, attribute


def test_no_test_patches_a_production_limit_that_is_not_listed() -> None:
    unlisted = [
        f"{where}:{line} patches {module}.{name}: make it a setting, or list it with a reason"
        for where, line, module, name in patched_constants()
        if (module, name) not in ALLOWED
    ]
    assert unlisted == []


def test_every_listed_constant_is_still_patched() -> None:
    patched = {(module, name) for _, _, module, name in patched_constants()}
    assert set(ALLOWED) - patched == set()


def test_the_walk_finds_both_ways_of_naming_a_constant() -> None:
    found = {(module, name) for _, _, module, name in patched_constants()}
    assert ("storage.event_blocks", "FOLD_AT") in found  # (module, "NAME")
    assert ("storage.sessions", "MAX_PAGES") in found  # "package.module.NAME"
