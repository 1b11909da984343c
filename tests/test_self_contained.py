"""The repository stands on its own: no file cites documents that only its authors had.

A citation of a file outside the checkout (`shared/rrweb.md`, `../shared/...`) means
nothing to a user of the repository; cite the upstream source instead (rrweb's types,
a product's published docs).
"""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = re.compile(r"(?<![\w.-])(?:\.\./)*shared/[\w./-]+")


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    paths = [ROOT / name.decode() for name in listed if name]
    return [path for path in paths if path.is_file() and b"\0" not in path.read_bytes()[:4096]]


def test_no_file_cites_a_document_outside_the_repository() -> None:
    files = [path for path in _tracked_text_files() if path != Path(__file__).resolve()]
    assert len(files) > 100  # the walk saw the repository
    cited = {
        f"{path.relative_to(ROOT)}: {match}"
        for path in files
        for match in OUTSIDE.findall(path.read_text(errors="replace"))
    }
    assert not cited, sorted(cited)
