"""Only storage/engine.py adapts the code to FerretDB; everything else is engine-neutral.

The rule. Outside the layer (every module of the production packages, walked from their
folders so a new module is covered), code may not:

- name FerretDB: no identifier, attribute, argument or string constant says it. Comments
  and docstrings may: they explain a data layout or query shape chosen to be good on
  both engines ("FerretDB stores no nested arrays", "FerretDB pushes only `_id` equality
  down"), which is not a workaround. The setting's own enum (`core.config.StorageEngine`)
  is the one other place its name is code.
- read the engine setting other than to hand it to a call (the layer), or branch on the
  engine: no condition, comparison or lookup mentions the setting, its enum or the layer.
- hold the workarounds themselves: a retry after DuplicateKeyError (in its handler, or
  by a loop around the try), a process lock (`asyncio.Lock`) in storage or workers, a
  loop waiting for a claim, driver pool options, or indexes created one per command.

The checker is run on small examples of each form first, so it cannot pass by finding
nothing.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("api", "graph", "service", "workers", "storage", "core")
LAYER = Path("storage/engine.py")
SETTING = "SIGHTLINE_STORAGE_ENGINE"
SETTING_ENUM = "StorageEngine"
POOL_OPTIONS = frozenset({"maxpoolsize", "minpoolsize", "maxconnecting"})
# Where a process lock around writes would be a FerretDB workaround (core/ has locks of
# its own, for CPU-bound work).
WRITING_PACKAGES = ("storage", "workers")


def _identifiers(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.Attribute):
        yield node.attr
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        yield node.name
    elif isinstance(node, ast.arg | ast.keyword) and node.arg:
        yield node.arg
    elif isinstance(node, ast.alias):
        yield node.name
        if node.asname:
            yield node.asname
    elif isinstance(node, ast.ImportFrom) and node.module:
        yield node.module


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _line(node: ast.AST) -> int:
    return int(getattr(node, "lineno", 0))


def _text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _names_ferretdb(tree: ast.AST) -> Iterator[tuple[int, str]]:
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        words = list(_identifiers(node))
        text = _text(node)
        if text is not None and id(node) not in docstrings:
            words.append(text)
        if any("ferret" in word.lower() for word in words):
            yield _line(node), f"names FerretDB in code: {words}"


def _mentions_engine(node: ast.AST) -> bool:
    return any(
        "engine" in word.lower() or word == SETTING
        for sub in ast.walk(node)
        for word in _identifiers(sub)
    )


def _conditions(node: ast.AST) -> Iterator[ast.AST]:
    if isinstance(node, ast.If | ast.IfExp | ast.While | ast.Assert):
        yield node.test
    elif isinstance(node, ast.comprehension):
        yield from node.ifs
    elif isinstance(node, ast.Match):
        yield node.subject
    elif isinstance(node, ast.Compare | ast.BoolOp):
        yield node
    elif isinstance(node, ast.Subscript):
        yield node.slice


def _handed_to_calls(tree: ast.AST) -> set[int]:
    """ids of the expressions that are a call's argument as they stand."""
    handed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            handed.update(id(arg) for arg in node.args)
            handed.update(id(kw.value) for kw in node.keywords)
    return handed


def _branches_on_engine(tree: ast.AST) -> Iterator[tuple[int, str]]:
    handed = _handed_to_calls(tree)
    for node in ast.walk(tree):
        for condition in _conditions(node):
            if _mentions_engine(condition):
                yield _line(node), f"branches on the engine: {ast.unparse(condition)}"
        is_setting = isinstance(node, ast.Attribute | ast.Name) and SETTING in _identifiers(node)
        declared = isinstance(getattr(node, "ctx", None), ast.Store)  # the setting's field
        if is_setting and not declared and id(node) not in handed:
            yield _line(node), f"reads {SETTING} other than to hand it to the layer"


def _catches_duplicate_key(handler: ast.ExceptHandler) -> bool:
    return handler.type is not None and any(
        word == "DuplicateKeyError" for sub in ast.walk(handler.type) for word in _identifiers(sub)
    )


def _callees(nodes: list[ast.stmt]) -> set[str]:
    return {
        ast.unparse(sub.func)
        for node in nodes
        for sub in ast.walk(node)
        if isinstance(sub, ast.Call)
    }


def _retries(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """`except DuplicateKeyError` that calls again what its `try` called, or in a loop."""
    looped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.For | ast.AsyncFor | ast.While):
            looped.update(id(sub) for stmt in node.body for sub in ast.walk(stmt))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        for handler in node.handlers:
            if not _catches_duplicate_key(handler):
                continue
            again = _callees(node.body) & _callees(handler.body)
            if again or id(node) in looped:
                yield handler.lineno, f"retries after DuplicateKeyError: {sorted(again)}"


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def _workaround_calls(tree: ast.AST, *, writes: bool) -> Iterator[tuple[int, str]]:
    for call in _calls(tree):
        callee = ast.unparse(call.func)
        if writes and callee.split(".")[-1] == "Lock":
            yield call.lineno, f"a process lock: {callee}()"
        for kw in call.keywords:
            if kw.arg and kw.arg.lower() in POOL_OPTIONS:
                yield call.lineno, f"sets the driver's pool: {kw.arg}"
        single = [len(a.elts) == 1 for a in call.args if isinstance(a, ast.List)] == [True]
        if callee.endswith("create_indexes") and single:
            yield call.lineno, "creates indexes one per command"


def _workarounds(tree: ast.AST, *, writes: bool) -> Iterator[tuple[int, str]]:
    yield from _retries(tree)
    yield from _workaround_calls(tree, writes=writes)
    for node in ast.walk(tree):
        if isinstance(node, ast.While | ast.For | ast.AsyncFor):
            waits = {ast.unparse(c.func) for stmt in node.body for c in _calls(stmt)}
            if any(callee.endswith("claims.acquire") for callee in waits):
                yield node.lineno, "waits for a claim in a loop"
        text = _text(node)
        if text is not None and text.lower() in POOL_OPTIONS:
            yield _line(node), f"sets the driver's pool: {text}"


def _without_setting_enum(tree: ast.Module) -> ast.Module:
    """`tree` without the setting's enum, the one place outside the layer it is named."""
    body = [
        node
        for node in tree.body
        if not (isinstance(node, ast.ClassDef) and node.name == SETTING_ENUM)
    ]
    return ast.Module(body=body, type_ignores=[])


def engine_quirks(source: str, *, writes: bool = True) -> list[tuple[int, str]]:
    """(line, what) for each way a module outside the layer adapts to its engine."""
    tree = _without_setting_enum(ast.parse(source))
    return sorted(
        {
            *_names_ferretdb(tree),
            *_branches_on_engine(tree),
            *_workarounds(tree, writes=writes),
        }
    )


def _modules() -> list[Path]:
    paths = (p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))
    return sorted(p for p in paths if p.relative_to(ROOT) != LAYER)


@pytest.mark.parametrize(
    "source",
    [
        "FERRETDB = True",
        "def on_ferretdb(): pass",
        "mode = 'ferretdb'",
        "client.admin.command('buildInfo')['ferretdbVersion']",
        "if settings.SIGHTLINE_STORAGE_ENGINE == 'mongodb':\n    pass",
        "mongodb = settings.SIGHTLINE_STORAGE_ENGINE",
        "x = 1 if engine.engine_of(db) is StorageEngine.MONGODB else 2",
        "if storage_engine.workarounds(db):\n    pass",
        "size = POOLS[settings.SIGHTLINE_STORAGE_ENGINE]",
        "match engine_of(db):\n    case _:\n        pass",
        "try:\n    await c.update_one(q, u, upsert=True)\n"
        "except DuplicateKeyError:\n    await c.update_one(q, u, upsert=True)",
        "for attempt in (1, 2):\n    try:\n        return await upsert()\n"
        "    except errors.DuplicateKeyError:\n        if attempt == 2:\n            raise",
        "_LOCK = asyncio.Lock()",
        "AsyncMongoClient(url, maxPoolSize=20)",
        "options = {'maxPoolSize': 20}",
        "for model in models:\n    await collection.create_indexes([model])",
        "while True:\n    if await claims.acquire(db, name, holder, lease):\n        break",
    ],
)
def test_the_checker_finds_each_form_of_engine_adaptation(source: str) -> None:
    assert engine_quirks(source), source


@pytest.mark.parametrize(
    "source",
    [
        '"""FerretDB stores no nested arrays, so names and amounts are two arrays."""',
        "def f():\n    '''One `_id` lookup each, which FerretDB pushes down.'''",
        "x = 1  # FerretDB pushes top-level equality down",
        "client = await open_client(url, setting=settings.SIGHTLINE_STORAGE_ENGINE)",
        "async with engine.serialized(db, name):\n    pass",
        "await engine.raced_upsert(db, lambda: c.update_one(q, u, upsert=True))",
        "try:\n    await c.insert_one(doc)\nexcept DuplicateKeyError:\n    return False",
        "for m in markers:\n    with contextlib.suppress(DuplicateKeyError):\n"
        "        await c.insert_one(m)",
        "class StorageEngine(StrEnum):\n    FERRETDB = 'ferretdb'",
        "AsyncMongoClient(url, **storage_engine.client_options(engine))",
        "await collection.create_indexes(models)",
        "if await claims.acquire(db, name, holder, lease):\n    pass",
    ],
)
def test_the_checker_passes_engine_neutral_code(source: str) -> None:
    assert engine_quirks(source) == [], source


def test_only_the_engine_layer_adapts_to_ferretdb() -> None:
    modules = _modules()
    assert len(modules) > 80  # the walk found the packages
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in modules
        for line, what in engine_quirks(
            path.read_text(), writes=path.relative_to(ROOT).parts[0] in WRITING_PACKAGES
        )
    ]
    assert found == [], "\n".join(found)


def test_the_layer_itself_is_found_by_the_checker() -> None:
    """The layer does every one of these: were it walked, the checker would say so."""
    assert len(engine_quirks((ROOT / LAYER).read_text())) >= 4
