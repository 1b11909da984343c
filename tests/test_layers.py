"""`storage/` is the only code that imports or calls the database driver.

Every module of the other layers (walked from their folders, so a new module is
covered) is parsed and must not import the driver's packages in any form
(`import x`, `from x import y`, `importlib.import_module("x")`, `__import__("x")`),
index a database or client (`db[...]`, `ctx.db[...]`, `x[sessions.COLLECTION]`,
`client[settings.MONGODB_DATABASE]`), reach into one (`db.command(...)`), or call
a method only a collection has (`update_one`, `find_one_and_update`, ...). The
checker is run on small examples of each form first, so it cannot pass by
finding nothing.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("api", "graph", "service", "workers", "core")
DRIVER_PACKAGES = frozenset({"pymongo", "bson", "gridfs", "motor"})
# Names a database, a client or a driver handle goes by in this codebase.
DATABASE_NAMES = frozenset({"db", "database", "mongo", "mongo_client"})
# Names in a subscript that say it selects a collection or a database.
COLLECTION_KEYS = ("COLLECTION", "MONGODB_DATABASE")
# Methods only PyMongo's collections and databases have (`find` is also `str.find`;
# a call of it on a collection is caught by the subscript that selected the collection).
COLLECTION_METHODS = frozenset(
    {
        "aggregate",
        "aggregate_raw_batches",
        "bulk_write",
        "count_documents",
        "create_collection",
        "create_index",
        "create_indexes",
        "delete_many",
        "delete_one",
        "drop_collection",
        "drop_index",
        "drop_indexes",
        "estimated_document_count",
        "find_one",
        "find_one_and_delete",
        "find_one_and_replace",
        "find_one_and_update",
        "find_raw_batches",
        "get_collection",
        "index_information",
        "insert_many",
        "insert_one",
        "list_collection_names",
        "list_collections",
        "list_indexes",
        "replace_one",
        "update_many",
        "update_one",
    }
)


def _is_driver(module: str | None) -> bool:
    return module is not None and module.split(".")[0] in DRIVER_PACKAGES


def _name_of(node: ast.expr) -> str | None:
    """The last name in `a.b.db`, `db` or `ctx["db"]`."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return str(node.slice.value)
    return None


def _is_database(node: ast.expr) -> bool:
    name = _name_of(node)
    return name is not None and (name in DATABASE_NAMES or name.endswith("_db"))


def _selects_collection(index: ast.expr) -> bool:
    return any(
        key in name for sub in ast.walk(index) if (name := _name_of(sub)) for key in COLLECTION_KEYS
    )


def _imports(node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (f"imports {a.name}" for a in node.names if _is_driver(a.name))
    elif node.level == 0 and _is_driver(node.module):
        yield f"imports from {node.module}"


def _calls(call: ast.Call) -> Iterator[str]:
    if _name_of(call.func) in {"import_module", "__import__"} and call.args:
        target = call.args[0]
        if not isinstance(target, ast.Constant) or not isinstance(target.value, str):
            yield "a dynamic import of a computed name"
        elif _is_driver(target.value):
            yield f"imports {target.value}"
    if isinstance(call.func, ast.Attribute) and call.func.attr in COLLECTION_METHODS:
        yield f"calls the collection method {call.func.attr}"


def _accesses(node: ast.Subscript | ast.Attribute) -> Iterator[str]:
    if isinstance(node, ast.Subscript):
        if _is_database(node.value) or _selects_collection(node.slice):
            yield f"indexes a database: {ast.unparse(node)}"
    elif _is_database(node.value):
        yield f"reaches into a database: {ast.unparse(node)}"


def driver_uses(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, what) for each use of the driver in a module's syntax tree."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            found = _imports(node)
        elif isinstance(node, ast.Call):
            found = _calls(node)
        elif isinstance(node, ast.Subscript | ast.Attribute):
            found = _accesses(node)
        else:
            continue
        yield from ((node.lineno, what) for what in found)


def _modules() -> list[Path]:
    return sorted(path for layer in LAYERS for path in (ROOT / layer).rglob("*.py"))


@pytest.mark.parametrize(
    "source",
    [
        "import pymongo",
        "import bson.json_util as j",
        "from pymongo.errors import PyMongoError",
        "from bson import Binary",
        "from gridfs import GridFS",
        "import importlib\nimportlib.import_module('pymongo.errors')",
        "__import__('bson')",
        "import_module(name)",
        "await db[sessions.COLLECTION].find_one({})",
        "await ctx.db['sessions'].find({})",
        "await ctx['db']['sessions'].find({})",
        "db = client[settings.MONGODB_DATABASE]",
        "await work.db.command('ping')",
        "await self.events_db.drop()",
        "await store.update_one({}, {})",
        "await collection.find_one_and_update({}, {})",
    ],
)
def test_the_checker_finds_each_form_of_driver_use(source: str) -> None:
    assert list(driver_uses(ast.parse(source))), source


@pytest.mark.parametrize(
    "source",
    [
        "from storage.database import Database, time_budget",
        "from storage.errors import STORAGE_ERRORS",
        "await sessions.find_ref(ctx.db, key)",
        "ctx['db'] = database_of(client, name)",
        "end = source.find('}', start)",
        "x = client[0]",
        "import importlib.metadata",
    ],
)
def test_the_checker_passes_code_that_goes_through_storage(source: str) -> None:
    assert list(driver_uses(ast.parse(source))) == [], source


def test_only_storage_imports_or_calls_the_driver() -> None:
    modules = _modules()
    assert len(modules) > 50  # the walk found the layers
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in modules
        for line, what in driver_uses(ast.parse(path.read_text(), filename=str(path)))
    ]
    assert found == [], "\n".join(found)
