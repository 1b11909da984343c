"""A processing run owns its commit: one module writes what a run counted and what it marked.

The heatmap counts of a run, the `rolled_up` marks of the events they came from, the
`processed` marks of its chunks and the crash-recovery record on the session belong
together (workers/run_commit.py): written from two places, a change to one could mark
progress that was never counted. The heatmap module only counts (it awaits nothing).
These checks read every worker module, so a progress write added elsewhere fails here;
what the commit does under a killed worker is tests/faults/test_kill_each_job.py's.
"""

import ast
from pathlib import Path

WORKERS = Path(__file__).resolve().parent.parent / "workers"
COMMIT = WORKERS / "run_commit.py"
# The storage calls that record a run's counts and progress.
PROGRESS_WRITES = frozenset({
    "apply_once", "mark_processed", "mark_rolled_up",
    "set_rollup_pending", "mark_rollup_counted", "clear_rollup_pending",
})  # fmt: skip


def _calls(tree: ast.AST) -> set[str]:
    return {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }


def test_only_the_run_commit_records_a_runs_counts_and_progress() -> None:
    modules = sorted(WORKERS.rglob("*.py"))
    assert COMMIT in modules
    writes = {path: _calls(ast.parse(path.read_text())) & PROGRESS_WRITES for path in modules}
    found = {
        f"{p.relative_to(WORKERS)}: {sorted(w)}" for p, w in writes.items() if w and p != COMMIT
    }
    assert not found, found
    assert _calls(ast.parse(COMMIT.read_text())) >= PROGRESS_WRITES  # the list is not stale


def test_the_heatmap_module_only_counts() -> None:
    tree = ast.parse((WORKERS / "heatmap_rollup.py").read_text())
    assert not [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Await)]
