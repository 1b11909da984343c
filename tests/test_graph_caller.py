"""Resolvers read the caller through `Context.caller`, never as an optional they assert on.

An access rule (graph/access.py) refuses a request without a caller before a resolver
runs; `caller` states that once, and raises the same authentication error should a
resolver ever be reached without one, where an `assert` would be a 500 (or nothing,
under `python -O`).
"""

import ast
from pathlib import Path
from typing import Any

import pytest

from graph.context import Context
from graph.errors import AuthenticationError

GRAPH = Path(__file__).resolve().parent.parent / "graph"


def _asserts_on_an_optional_caller(tree: ast.AST) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Assert)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.ops[0], ast.IsNot)
        and "principal" in ast.unparse(node.test.left)
    ]


def test_no_resolver_asserts_that_there_is_a_caller() -> None:
    modules = sorted(GRAPH.rglob("*.py"))
    assert len(modules) > 20
    found = [
        f"{path.name}:{line}"
        for path in modules
        for line in _asserts_on_an_optional_caller(ast.parse(path.read_text()))
    ]
    assert not found, found
    assert _asserts_on_an_optional_caller(ast.parse("assert ctx.principal is not None"))


def test_a_missing_caller_is_an_authentication_error() -> None:
    nothing: Any = None
    context = Context(resources=nothing, request=nothing, response=nothing)
    with pytest.raises(AuthenticationError, match="Sign in"):
        _ = context.caller
    context.auth_failure = "The session expired"
    with pytest.raises(AuthenticationError, match="The session expired"):
        _ = context.caller
