"""The GraphQL examples in the README are valid against the served schema."""

import re
from pathlib import Path

import pytest
from graphql import parse, validate

from core.config import Settings
from graph.schema import schema

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```graphql\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_the_readme_has_graphql_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("block", BLOCKS, ids=[f"example-{i}" for i in range(len(BLOCKS))])
def test_readme_example_is_valid(block: str) -> None:
    for operation in re.split(r"\n(?=mutation|query|\{)", block.strip()):
        errors = validate(schema._schema, parse(operation))
        assert errors == [], f"{operation}\n{errors}"


def test_every_setting_is_in_the_configuration_table() -> None:
    rows = "".join(line for line in README.read_text().splitlines() if line.startswith("|"))
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", rows))
    assert sorted(set(Settings.model_fields) - documented) == []
