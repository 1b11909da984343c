"""The layers depend on each other only the way the README's table says.

`core/` is pure domain code and imports no other package of the project; `storage/`
builds on `core/` only; `workers/` never reaches into the API or the schema; `service/`
(what both interfaces share) and `graph/` use the workers only through their queue
interface; `api/` reaches the schema only where it mounts it (`api/app.py`), and gets
resources, callers and ownership from `service/`. Every import of every module is read
(top-level or inside a function), so a new module or a late import is covered.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("api", "core", "graph", "service", "storage", "workers", "scripts", "bench")
# package -> the project packages (or exact modules) its modules may import
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "storage": {"storage", "core"},
    "workers": {"workers", "storage", "core"},
    "service": {"service", "storage", "core", "workers.queue"},
    "graph": {"graph", "service", "storage", "core", "workers.queue"},
    "api": {"api", "service", "storage", "core", "workers.queue"},
}
# module -> what it may import beyond its package's rule: the one edge from api to graph
EXCEPTIONS: dict[str, set[str]] = {
    "api/app.py": {"graph.schema", "graph.view", "graph.limits"},
}


def _imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def _allowed(target: str, allowed: set[str]) -> bool:
    return any(target == a or target.startswith(a + ".") for a in allowed)


def test_each_layer_imports_only_what_it_may() -> None:
    found, seen = [], set()
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            seen.add(package)
            module = path.relative_to(ROOT).as_posix()
            may = allowed | EXCEPTIONS.get(module, set())
            for line, target in _imported(ast.parse(path.read_text(), str(path))):
                if target.split(".")[0] in PACKAGES and not _allowed(target, may):
                    found.append(f"{module}:{line} imports {target}")
    assert not found, "\n".join(found)
    assert seen == set(ALLOWED)  # the walk found each layer's modules


def test_the_exceptions_name_modules_that_exist() -> None:
    """An exception for a module that was renamed would silently allow nothing."""
    assert all((ROOT / module).is_file() for module in EXCEPTIONS)
