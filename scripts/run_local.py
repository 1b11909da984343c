"""`make run`: local services (unless configured), the API and one worker.

Starts FerretDB and Redis with their data under .local/ unless MONGODB_URL and
REDIS_URL are set, then the API and an arq worker, prints the URL once the API
is healthy, and stops everything it started on Ctrl-C.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from scripts.local_services import Service, ServiceError, start_ferretdb, start_redis

ROOT = Path(__file__).resolve().parent.parent
LOCAL = Path(os.environ.get("SIGHTLINE_LOCAL_DIR", str(ROOT / ".local")))


def _start_services(env: dict[str, str]) -> list[Service]:
    started: list[Service] = []
    if "MONGODB_URL" not in env:
        port = int(env.get("SIGHTLINE_LOCAL_MONGO_PORT", "27017"))
        started.append(start_ferretdb(LOCAL / "ferretdb", port))
        env["MONGODB_URL"] = started[-1].url
    if "REDIS_URL" not in env:
        port = int(env.get("SIGHTLINE_LOCAL_REDIS_PORT", "6379"))
        started.append(start_redis(LOCAL / "redis", port))
        env["REDIS_URL"] = started[-1].url
    return started


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
    children: list[subprocess.Popen[bytes]] = []
    try:
        services = _start_services(env)
        python = sys.executable
        api = subprocess.Popen([python, "-m", "api"], env=env, cwd=ROOT)
        children.append(api)
        children.append(subprocess.Popen([python, "-m", "workers", "run"], env=env, cwd=ROOT))
        url = f"http://{env.get('SIGHTLINE_HOST', '127.0.0.1')}:{env.get('SIGHTLINE_PORT', '8000')}"
        if not _wait_healthy(url, api):
            print("sightline: the API did not become healthy; see the log above", file=sys.stderr)
            return 1
        print(f"\n  Sightline is running at {url}  (GraphQL: {url}/graphql)\n  Ctrl-C stops it.\n")
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("sightline: a process exited; stopping the rest", file=sys.stderr)
        return 1
    except ServiceError as exc:
        print(f"sightline: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(children, services)


def _stop(children: list[subprocess.Popen[bytes]], services: list[Service]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for child in reversed(children):
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in reversed(children):
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()
    for service in reversed(services):
        service.stop()
    print("sightline: stopped", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
