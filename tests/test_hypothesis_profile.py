"""Every property test draws the same examples on every run (tests/conftest.py's profile).

Each module of the suite that uses Hypothesis is imported and each of its `@given`
tests is asked for the settings it will run with: a `@settings(...)` that sets its own
`derandomize`, or a profile that lost it, fails here rather than in a red CI run no one
can reproduce. `SIGHTLINE_HYPOTHESIS=explore` draws fresh examples everywhere.
"""

import importlib
import os
from pathlib import Path

from hypothesis import settings as hypothesis_settings

ROOT = Path(__file__).resolve().parent.parent


def _property_tests() -> list[tuple[str, object]]:
    found = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        if "@given" not in path.read_text():
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        module = importlib.import_module(name)
        found += [
            (f"{name}.{attr}", test)
            for attr, test in vars(module).items()
            if hasattr(test, "_hypothesis_internal_use_settings")
        ]
    return found


def test_the_default_profile_draws_the_same_examples_every_run() -> None:
    assert hypothesis_settings.get_profile("fixed").derandomize
    if "SIGHTLINE_HYPOTHESIS" not in os.environ:  # `make test` and CI
        assert hypothesis_settings.default.derandomize


def test_every_property_test_follows_the_profile() -> None:
    tests = _property_tests()
    assert len(tests) >= 5  # the walk found the property tests
    own = [
        name
        for name, test in tests
        if test._hypothesis_internal_use_settings.derandomize  # type: ignore[attr-defined]
        != hypothesis_settings.default.derandomize
    ]
    assert not own, own
