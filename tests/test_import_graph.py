"""The layers depend on each other only the way the README's table says.

`core/` is pure domain code and imports no other package of the project; `storage/`
builds on `core/` only; `workers/` never reaches into the API or the schema; `graph/`
uses the workers only through their queue interface. Every import of every module is
read (top-level or inside a function), so a new module or a late import is covered.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("api", "core", "graph", "storage", "workers", "scripts", "bench")
# package -> the project packages (or exact modules) its modules may import
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "storage": {"storage", "core"},
    "workers": {"workers", "storage", "core"},
    "graph": {"graph", "storage", "core", "workers.queue"},
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
    found, seen = [], 0
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            seen += 1
            for line, target in _imported(ast.parse(path.read_text(), str(path))):
                if target.split(".")[0] in PACKAGES and not _allowed(target, allowed):
                    found.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert seen > 100  # the walk found the modules
    assert not found, "\n".join(found)
