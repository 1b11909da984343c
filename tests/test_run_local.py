"""`make run`'s launcher starts everything, serves the API, and stops cleanly."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from core.config import Settings
from scripts.local_services import free_port, port_is_open
from storage.crash_points import VARIABLE


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
    ports = {name: free_port() for name in ("api", "postgresql", "mongo", "redis")}
    # Not under tmp_path, which only its owner may enter: as root, PostgreSQL runs as a
    # system user that must reach its data.
    local = Path(tempfile.mkdtemp(prefix="sightline-run-"))
    local.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in {"MONGODB_URL", "REDIS_URL"}} | {
        "SIGHTLINE_PORT": str(ports["api"]),
        "SIGHTLINE_LOCAL_POSTGRESQL_PORT": str(ports["postgresql"]),
        "SIGHTLINE_LOCAL_MONGO_PORT": str(ports["mongo"]),
        "SIGHTLINE_LOCAL_REDIS_PORT": str(ports["redis"]),
        "SIGHTLINE_LOCAL_DIR": str(local),
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
        base = f"http://127.0.0.1:{ports['api']}"
        with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
            assert response.status == 200
        request = urllib.request.Request(
            base + "/graphql",
            data=b'{"query": "{ apiVersion }"}',
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.loads(response.read()) == {"data": {"apiVersion": "1"}}
        assert (local / "postgresql" / "PG_VERSION").is_file()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)
        shutil.rmtree(local, ignore_errors=True)
    assert process.returncode == 0, log.read_text(errors="replace")
    assert "sightline: stopped" in log.read_text(errors="replace")
    for name, port in ports.items():
        assert not port_is_open(port), f"{name}'s port {port} still open after Ctrl-C"


def _launch(repo_root: Path, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("w") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "scripts.run_local"],
            cwd=repo_root,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def _on_test_servers(settings: Settings, api_port: int) -> dict[str, str]:
    """`make run` on the test's servers, database and queue (it starts no servers then)."""
    return {
        "MONGODB_URL": settings.mongodb_url,
        "MONGODB_DATABASE": settings.MONGODB_DATABASE,
        "REDIS_URL": settings.redis_url,
        "SIGHTLINE_QUEUE_NAME": settings.SIGHTLINE_QUEUE_NAME,
        "SIGHTLINE_PORT": str(api_port),
    }


def _worker_pids(parent: int) -> set[int]:
    """The `python -m workers run` children of `parent`, from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == parent and b"workers" in cmdline:
            found.add(int(stat.parent.name))
    return found


def _wait_for_worker(parent: int, other_than: set[int], log: Path) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        fresh = _worker_pids(parent) - other_than
        if fresh:
            return fresh.pop()
        time.sleep(0.1)
    raise AssertionError(f"no worker started; output:\n{log.read_text(errors='replace')}")


def _healthy(api_port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/healthz", timeout=5) as response:
        return bool(response.status == 200)


def test_a_worker_that_dies_is_restarted_and_the_api_keeps_serving(
    repo_root: Path, tmp_path: Path, settings: Settings
) -> None:
    api_port = free_port()
    log = tmp_path / "make-run.log"
    process = _launch(repo_root, log, _on_test_servers(settings, api_port))
    try:
        _wait_for_line(log, "Sightline is running at", timeout=90)
        first = _wait_for_worker(process.pid, set(), log)
        os.kill(first, signal.SIGKILL)
        _wait_for_line(log, "the worker exited with -9; restarting it", timeout=30)
        second = _wait_for_worker(process.pid, {first}, log)
        assert process.poll() is None
        assert _healthy(api_port)
        assert second in _worker_pids(process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)
    assert process.returncode == 0, log.read_text(errors="replace")
    assert not port_is_open(api_port)


def test_a_worker_that_keeps_crashing_at_start_stops_everything(
    repo_root: Path, tmp_path: Path, settings: Settings
) -> None:
    api_port = free_port()
    log = tmp_path / "make-run.log"
    env = _on_test_servers(settings, api_port) | {VARIABLE: "worker.started"}
    process = _launch(repo_root, log, env)
    try:
        process.wait(180)
    finally:
        if process.poll() is None:
            process.kill()
    output = log.read_text(errors="replace")
    assert process.returncode == 1, output
    assert output.count("the worker exited with -9; restarting it") == 4
    assert "the worker keeps crashing; giving up" in output
    assert "sightline: stopped" in output
    assert not port_is_open(api_port)
