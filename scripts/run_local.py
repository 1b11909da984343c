"""`make run`: local services (unless configured), the API and one worker.

Starts PostgreSQL, FerretDB on it, and Redis, with their data under .local/, unless
MONGODB_URL and REDIS_URL are set, then the API and an arq worker, prints the URL once the API
is healthy, and stops everything it started on Ctrl-C.

A child that exits on its own is started again after a growing pause, so one
crashed process does not take the others down; after five crashes in a row,
each within ten seconds of its start, it gives up and stops everything, since
such a child would only crash again.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from scripts.local_services import (
    Service,
    ServiceError,
    free_port,
    postgresql_database,
    start_ferretdb,
    start_postgresql,
    start_redis,
)

ROOT = Path(__file__).resolve().parent.parent
LOCAL = Path(os.environ.get("SIGHTLINE_LOCAL_DIR", str(ROOT / ".local")))


def _start_services(env: dict[str, str]) -> list[Service]:
    started: list[Service] = []
    if "MONGODB_URL" not in env:
        port = int(env.get("SIGHTLINE_LOCAL_POSTGRESQL_PORT") or free_port())
        started.append(start_postgresql(LOCAL / "postgresql", port))
        storage = postgresql_database(started[-1], "ferretdb")
        port = int(env.get("SIGHTLINE_LOCAL_MONGO_PORT", "27017"))
        started.append(start_ferretdb(storage, port, LOCAL / "ferretdb.log"))
        env["MONGODB_URL"] = started[-1].url
    if "REDIS_URL" not in env:
        port = int(env.get("SIGHTLINE_LOCAL_REDIS_PORT", "6379"))
        started.append(start_redis(LOCAL / "redis", port))
        env["REDIS_URL"] = started[-1].url
    return started


RESTART_FIRST_S = 0.5
RESTART_MOST_S = 15.0
FAST_CRASH_S = 10.0  # a child that exits sooner than this after its start crashed "fast"
MAX_FAST_CRASHES = 5


@dataclass
class Child:
    """A process `make run` keeps running: restarted, with backoff, when it exits."""

    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] = field(init=False)
    started: float = field(init=False)
    fast_crashes: int = 0
    restart_at: float | None = None

    def __post_init__(self) -> None:
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, env=self.env, cwd=ROOT)
        self.started, self.restart_at = time.monotonic(), None

    def tend(self) -> bool:
        """Restart the child when it is due; False once it keeps crashing."""
        now = time.monotonic()
        if self.process.poll() is None:
            return True
        if self.restart_at is None:
            fast = now - self.started < FAST_CRASH_S
            self.fast_crashes = self.fast_crashes + 1 if fast else 1
            if self.fast_crashes >= MAX_FAST_CRASHES:
                print(f"sightline: the {self.name} keeps crashing; giving up", file=sys.stderr)
                return False
            delay = min(RESTART_FIRST_S * 2 ** (self.fast_crashes - 1), RESTART_MOST_S)
            self.restart_at = now + delay
            print(
                f"sightline: the {self.name} exited with {self.process.returncode}; "
                f"restarting it in {delay:g} s",
                file=sys.stderr,
            )
        if now >= self.restart_at:
            self.start()
        return True


def _wait_healthy(url: str, api: subprocess.Popen[bytes], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and api.poll() is None:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    # Ctrl-C and SIGTERM both stop everything. Installed explicitly: a process started in
    # the background by a non-interactive shell inherits SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    env = dict(os.environ)
    env.setdefault("SIGHTLINE_ENV", "development")
    services: list[Service] = []
    children: list[Child] = []
    try:
        services = _start_services(env)
        python = sys.executable
        children.append(Child("API", [python, "-m", "api"], env))
        children.append(Child("worker", [python, "-m", "workers", "run"], env))
        url = f"http://{env.get('SIGHTLINE_HOST', '127.0.0.1')}:{env.get('SIGHTLINE_PORT', '8000')}"
        if not _wait_healthy(url, children[0].process):
            print("sightline: the API did not become healthy; see the log above", file=sys.stderr)
            return 1
        print(f"\n  Sightline is running at {url}  (GraphQL: {url}/graphql)\n  Ctrl-C stops it.\n")
        while all(child.tend() for child in children):
            time.sleep(0.5)
        return 1
    except ServiceError as exc:
        print(f"sightline: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(children, services)


def _stop(children: list[Child], services: list[Service]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    processes = [child.process for child in children]
    for child in reversed(processes):
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in reversed(processes):
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()
    for service in reversed(services):
        service.stop()
    print("sightline: stopped", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
