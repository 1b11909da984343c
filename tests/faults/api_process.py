"""A real API process for fault tests, which a named crash point kills mid-request."""

import subprocess
import sys
import time

import httpx

from core.config import Settings
from scripts.local_services import free_port
from tests.faults.workers import REPO, process_env


def start_api(settings: Settings, *, crash_at: str) -> tuple[subprocess.Popen[bytes], str]:
    """`python -m api` on the test's database and queue; returns it and its base URL."""
    port = free_port()
    env = process_env(settings, crash_at, SIGHTLINE_LOG_LEVEL="WARNING", SIGHTLINE_PORT=str(port))
    process = subprocess.Popen(
        [sys.executable, "-m", "api"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    while process.poll() is None:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"the API exited with {process.returncode}")
