"""Start and stop the local MongoDB-compatible server (FerretDB) and Redis.

Used by `make run` (scripts/run_local.py) and by the test suite (tests/conftest.py).
Both binaries are installed beforehand by `make servers` (part of `make run` and `make test`).
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

FERRETDB_VERSION = "v1.24.2"


class ServiceError(RuntimeError):
    """A local service could not be started."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("SIGHTLINE_CACHE_DIR", str(Path(base) / "sightline")))


def ferretdb_binary() -> Path:
    return cache_dir() / f"ferretdb-{FERRETDB_VERSION}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


@dataclass
class Service:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        scheme = "mongodb" if self.name == "ferretdb" else "redis"
        return f"{scheme}://127.0.0.1:{self.port}" + ("/0" if scheme == "redis" else "")

    def stop(self, timeout: float = 10) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _start(name: str, argv: list[str], port: int, log_path: Path, timeout: float) -> Service:
    if port_is_open(port):
        raise ServiceError(f"{name}: port {port} on 127.0.0.1 is already in use")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(f"{name} exited with {process.returncode}; see {log_path}")
        if port_is_open(port):
            return Service(name, port, process, log_path)
        time.sleep(0.05)
    process.kill()
    raise ServiceError(f"{name} did not listen on port {port} within {timeout} s; see {log_path}")


def start_ferretdb(data_dir: Path, port: int, timeout: float = 30) -> Service:
    binary = ferretdb_binary()
    if not binary.exists():
        raise ServiceError(f"{binary} is missing: run `make servers` to build FerretDB")
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [str(binary), "-listen", f"127.0.0.1:{port}", "-data", str(data_dir)]
    return _start("ferretdb", argv, port, data_dir.parent / "ferretdb.log", timeout)


def start_redis(data_dir: Path, port: int, timeout: float = 15) -> Service:
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceError("redis-server is missing: run `make servers` to install it")
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        binary,
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--save", "",
        "--daemonize", "no",
        "--protected-mode", "yes",
    ]  # fmt: skip
    return _start("redis", argv, port, data_dir.parent / "redis.log", timeout)
