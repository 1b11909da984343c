"""`make run`'s launcher starts everything, serves the API, and stops cleanly."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from scripts.local_services import free_port, port_is_open


def _wait_for_line(log: Path, needle: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} never printed; output:\n{log.read_text(errors='replace')}")


def test_make_run_serves_health_and_graphql_then_stops_on_ctrl_c(
    repo_root: Path, tmp_path: Path
) -> None:
    api_port, mongo_port, redis_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"MONGODB_URL", "REDIS_URL"}} | {
        "SIGHTLINE_PORT": str(api_port),
        "SIGHTLINE_LOCAL_MONGO_PORT": str(mongo_port),
        "SIGHTLINE_LOCAL_REDIS_PORT": str(redis_port),
        "SIGHTLINE_LOCAL_DIR": str(tmp_path / "local"),
    }
    # Output goes to a file, not a pipe: a pipe nobody drains fills up and blocks the
    # processes writing to it, shutdown included.
    log = tmp_path / "make-run.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "scripts.run_local"],
            cwd=repo_root,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_line(log, "Sightline is running at", timeout=90)
        base = f"http://127.0.0.1:{api_port}"
        with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
            assert response.status == 200
        request = urllib.request.Request(
            base + "/graphql",
            data=b'{"query": "{ apiVersion }"}',
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.loads(response.read()) == {"data": {"apiVersion": "1"}}
        assert (tmp_path / "local" / "ferretdb").is_dir()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)
    assert process.returncode == 0, log.read_text(errors="replace")
    assert "sightline: stopped" in log.read_text(errors="replace")
    for port in (api_port, mongo_port, redis_port):
        assert not port_is_open(port), f"port {port} still open after Ctrl-C"
