"""A real API process for fault tests, which a named crash point kills mid-request."""

import os
import subprocess
import sys
import time

import httpx

from core.config import Settings
from scripts.local_services import free_port
from storage.crash_points import VARIABLE
from tests.faults.workers import REPO


def start_api(settings: Settings, *, crash_at: str) -> tuple[subprocess.Popen[bytes], str]:
    """`python -m api` on the test's database and queue; returns it and its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "MONGODB_URL": settings.mongodb_url,
        "MONGODB_DATABASE": settings.MONGODB_DATABASE,
        "REDIS_URL": settings.redis_url,
        "SIGHTLINE_QUEUE_NAME": settings.SIGHTLINE_QUEUE_NAME,
        "SIGHTLINE_ENV": "development",
        "SIGHTLINE_LOG_LEVEL": "WARNING",
        "SIGHTLINE_PORT": str(port),
        VARIABLE: crash_at,
    }
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
