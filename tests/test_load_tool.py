"""The load test's verifier (bench/load.py) finds every lost batch (real API process, real
FerretDB and Redis, the real traffic generator in its own process)."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.load import create_site, run_client
from bench.load_verify import accepted_by_session, verify
from core.config import Settings
from scripts.local_services import free_port
from storage.database import Database
from storage.ids import chunk_key

SECRET = "load-tool-test-secret-0123456789abcdef"


@pytest.fixture
def api_url(settings: Settings, repo_root: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "MONGODB_URL": settings.mongodb_url,
        "REDIS_URL": settings.redis_url,
        "MONGODB_DATABASE": settings.MONGODB_DATABASE,
        "SIGHTLINE_QUEUE_NAME": settings.SIGHTLINE_QUEUE_NAME,
        "SIGHTLINE_ENV": "development",
        "SIGHTLINE_LOG_LEVEL": "WARNING",
        "SIGHTLINE_SECRET_KEY": SECRET,
        "SIGHTLINE_PORT": str(port),
    }
    process = subprocess.Popen([sys.executable, "-m", "api"], env=env, cwd=repo_root)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(15)


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    while process.poll() is None:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"the API exited with {process.returncode}")


async def test_the_verifier_counts_a_deleted_chunk_as_one_lost_batch(
    api_url: str, db: Database, tmp_path: Path
) -> None:
    site_id, key = create_site(api_url)
    log = run_client([api_url], key, tmp_path / "client.json",
                     duration=3, visitors=4, interval=0.3)  # fmt: skip
    batches = log["batches"]
    assert any(b["outcome"] == "accepted" for b in batches)

    clean = await verify(db, [api_url], SECRET.encode(), site_id, batches)
    assert clean["batches"] == sum(1 for b in batches if b["outcome"] == "accepted")
    assert (clean["batches_lost"], clean["events_lost"], clean["duplicates"]) == (0, 0, 0)
    assert clean["altered"] == 0  # masking applied the same way on both sides

    victim = max(
        (b for group in accepted_by_session(batches).values() for b in group),
        key=lambda b: b["seq"],
    )
    chunk = chunk_key(site_id, victim["session_id"], victim["seq"])
    assert (await db["recording_chunks"].delete_one({"_id": chunk})).deleted_count == 1

    damaged = await verify(db, [api_url], SECRET.encode(), site_id, batches)
    assert damaged["batches_lost"] == 1
    assert damaged["events_lost"] == victim["count"]
    assert damaged["duplicates"] == 0
