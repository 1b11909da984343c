from pathlib import Path

from graph.export import sdl


def test_committed_schema_matches_the_code(repo_root: Path) -> None:
    committed = (repo_root / "graph" / "schema.graphql").read_text()
    assert committed == sdl(), "graph/schema.graphql is stale: run `make schema` and commit it"
