"""The Makefile's targets install what they need and nothing more."""

import subprocess
from pathlib import Path

import pytest

# Only the end-to-end tests drive a browser.
BROWSER_WORDS = ("chromium", "playwright")


def _commands(repo_root: Path, target: str) -> str:
    """Every command `make target` would run, prerequisites included, none executed."""
    done = subprocess.run(
        ["make", "--always-make", "--dry-run", target],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.lower()


@pytest.mark.parametrize("target", ["run", "bench"])
def test_running_sightline_installs_the_servers_and_no_browser(
    repo_root: Path, target: str
) -> None:
    commands = _commands(repo_root, target)
    assert "install-redis.sh" in commands
    assert "install-postgresql.sh" in commands
    assert "build-ferretdb.sh" in commands
    for word in BROWSER_WORDS:
        assert word not in commands, f"`make {target}` would install {word}"


def test_make_test_installs_the_browser_for_the_end_to_end_tests(repo_root: Path) -> None:
    assert "install-chromium.sh" in _commands(repo_root, "test")
