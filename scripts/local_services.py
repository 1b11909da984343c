"""Start and stop the local servers: PostgreSQL, FerretDB on it, and Redis.

Used by `make run` (scripts/run_local.py), the test suite (tests/conftest.py) and the
benchmarks (bench/harness.py). The binaries are installed beforehand by `make servers`
(part of `make run` and `make test`).

FerretDB is stateless: its data lives in one PostgreSQL database, so a FerretDB that is
stopped and started again on the same database sees the same data, and one PostgreSQL
cluster serves several FerretDB processes, each on a database of its own.
"""

import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scripts import equality_indexes

FERRETDB_VERSION = "v1.24.2"

# FerretDB's PostgreSQL pool and PostgreSQL's connection limit are sized together. An update
# holds its query's connection while it takes a second one for its write, so a pool of N hangs
# for good once N updates run at once; PyMongo's pool (storage.engine.FERRETDB_POOL_SIZE) keeps
# each application process far below that. Two FerretDB processes at a full pool (the test
# suite's own and a fault test's) still leave PostgreSQL headroom for its tools.
FERRETDB_POOL_MAX_CONNS = 80
POSTGRESQL_MAX_CONNECTIONS = 200
POSTGRESQL_SUPERUSER = "sightline"
# PostgreSQL refuses to run as root; then it runs as this unprivileged system user.
POSTGRESQL_SYSTEM_USER = "sightline-pg"
UNIX_SOCKET_PATH_MAX = 107  # sun_path, less its terminating NUL
DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class ServiceError(RuntimeError):
    """A local service could not be started."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("SIGHTLINE_CACHE_DIR", str(Path(base) / "sightline")))


def ferretdb_binary() -> Path:
    """Named after its handler, so a launcher built for the former SQLite one is not reused."""
    return cache_dir() / f"ferretdb-{FERRETDB_VERSION}-postgresql"


def postgresql_bin_dir() -> Path:
    """Debian installs each major version's server binaries in its own folder; the newest wins."""
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/postgres")]
    if not found:
        raise ServiceError("PostgreSQL is missing: run `make servers` to install it")
    return max(
        found, key=lambda bin_dir: int(bin_dir.parent.name) if bin_dir.parent.name.isdigit() else -1
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


URL_FORMATS = {
    "ferretdb": "mongodb://127.0.0.1:{port}",
    "redis": "redis://127.0.0.1:{port}/0",
    "postgresql": f"postgres://{POSTGRESQL_SUPERUSER}@127.0.0.1:{{port}}",
}


@dataclass
class Service:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    argv: list[str]
    run_as: str | None = None
    # PostgreSQL's "fast" shutdown; its SIGTERM would wait for every client to leave.
    stop_signal: int = signal.SIGTERM
    ready: Callable[[int], bool] = port_is_open

    @property
    def url(self) -> str:
        return URL_FORMATS[self.name].format(port=self.port)

    def stop(self, timeout: float = 30) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def start_again(self, timeout: float = 30) -> "Service":
        """The same server, on the same port and data, after `stop`."""
        return _start(
            self.name, self.argv, self.port, self.log_path, timeout,
            run_as=self.run_as, stop_signal=self.stop_signal, ready=self.ready,
        )  # fmt: skip


def _start(
    name: str,
    argv: list[str],
    port: int,
    log_path: Path,
    timeout: float,
    *,
    run_as: str | None = None,
    stop_signal: int = signal.SIGTERM,
    ready: Callable[[int], bool] = port_is_open,
) -> Service:
    if port_is_open(port):
        raise ServiceError(f"{name}: port {port} on 127.0.0.1 is already in use")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, user=run_as, group=_group(run_as),
            cwd="/" if run_as else None,
        )  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(f"{name} exited with {process.returncode}; see {log_path}")
        if ready(port):
            return Service(name, port, process, log_path, argv, run_as, stop_signal, ready)
        time.sleep(0.05)
    process.kill()
    raise ServiceError(f"{name} did not listen on port {port} within {timeout} s; see {log_path}")


def _group(user: str | None) -> int | None:
    return None if user is None else pwd.getpwnam(user).pw_gid


def start_postgresql(data_dir: Path, port: int, timeout: float = 60) -> Service:
    """A private cluster in `data_dir` (created on first use), on 127.0.0.1 only.

    UTF-8 with the C locale, so text compares byte-wise as in MongoDB; `trust` on
    loopback, like the local Redis. The unix socket goes into the data folder, not
    into /var/run/postgresql, which belongs to Debian's own cluster.
    """
    bin_dir = postgresql_bin_dir()
    run_as = _postgresql_system_user()
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / "postgresql.log"
    if run_as is not None:
        _hand_over(data_dir, run_as)
    if not (data_dir / "PG_VERSION").exists():
        _initdb(bin_dir, data_dir, log_path, run_as)
    socket_dir = str(data_dir) if len(f"{data_dir}/.s.PGSQL.{port}") <= UNIX_SOCKET_PATH_MAX else ""
    argv = [
        str(bin_dir / "postgres"),
        "-D", str(data_dir),
        "-p", str(port),
        "-c", "listen_addresses=127.0.0.1",
        "-c", f"unix_socket_directories={socket_dir}",
        "-c", f"max_connections={POSTGRESQL_MAX_CONNECTIONS}",
        # FerretDB's statements take the key as a parameter: only a plan made with the
        # values can use the equality indexes (scripts/equality_indexes.py).
        "-c", "plan_cache_mode=force_custom_plan",
    ]  # fmt: skip
    return _start(
        "postgresql", argv, port, log_path, timeout,
        run_as=run_as, stop_signal=signal.SIGINT, ready=_accepts_connections,
    )  # fmt: skip


def _postgresql_system_user() -> str | None:
    """None unless we are root; then the system user, created on first use."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(POSTGRESQL_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home",
             "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
             POSTGRESQL_SYSTEM_USER],
            check=True, capture_output=True,
        )  # fmt: skip
    return POSTGRESQL_SYSTEM_USER


def _hand_over(data_dir: Path, user: str) -> None:
    """Give `user` the data folder, and check it can reach it through every parent."""
    account = pwd.getpwnam(user)
    for parent in data_dir.parents:
        mode = parent.stat()
        if not (mode.st_mode & stat.S_IXOTH or mode.st_uid == account.pw_uid):
            raise ServiceError(
                f"postgresql: PostgreSQL refuses to run as root, and the user {user} that runs "
                f"it instead cannot enter {parent} to reach {data_dir}; choose a data folder "
                "it can reach (SIGHTLINE_LOCAL_DIR for `make run`)"
            )
    if data_dir.stat().st_uid != account.pw_uid:
        for path in [data_dir, *data_dir.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)


def _initdb(bin_dir: Path, data_dir: Path, log_path: Path, run_as: str | None) -> None:
    argv = [
        str(bin_dir / "initdb"),
        "-D", str(data_dir),
        "-U", POSTGRESQL_SUPERUSER,
        "--encoding=UTF8", "--locale=C", "--auth=trust", "--no-instructions",
    ]  # fmt: skip
    with log_path.open("ab") as log:
        done = subprocess.run(
            argv, stdout=log, stderr=subprocess.STDOUT, user=run_as, group=_group(run_as),
            cwd="/" if run_as else None, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise ServiceError(f"postgresql: initdb exited with {done.returncode}; see {log_path}")


def _accepts_connections(port: int) -> bool:
    """Listening is not enough: PostgreSQL refuses clients while it starts up."""
    if not port_is_open(port):
        return False
    pg_isready = [
        str(postgresql_bin_dir() / "pg_isready"),
        "-q",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    return subprocess.run(pg_isready, check=False).returncode == 0


def _psql(postgresql: Service, sql: str, database: str = "postgres", **variables: str) -> str:
    """Run `sql` as the superuser; `:'name'` and `:"name"` in it quote `variables`."""
    argv = [
        str(postgresql_bin_dir() / "psql"),
        "-h", "127.0.0.1", "-p", str(postgresql.port), "-U", POSTGRESQL_SUPERUSER,
        "-d", database, "-v", "ON_ERROR_STOP=1", "-tA",
        *(f"--variable={key}={value}" for key, value in variables.items()),
    ]  # fmt: skip
    done = subprocess.run(argv, input=sql, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ServiceError(f"postgresql: {sql!r} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def _database_name(name: str) -> str:
    if not DATABASE_NAME.fullmatch(name):
        raise ValueError(f"not a plain PostgreSQL database name: {name!r}")
    return name


def postgresql_database(postgresql: Service, name: str) -> str:
    """Create database `name` in the cluster unless it exists, with the equality indexes
    (scripts/equality_indexes.py) on its tables now and later; FerretDB's URL for it."""
    exists = "SELECT 1 FROM pg_database WHERE datname = :'name'"
    if not _psql(postgresql, exists, name=_database_name(name)):
        _psql(postgresql, 'CREATE DATABASE :"name"', name=name)
    _psql(postgresql, equality_indexes.setup_sql(), database=name)
    return f"{postgresql.url}/{name}?pool_max_conns={FERRETDB_POOL_MAX_CONNS}"


def drop_postgresql_database(postgresql: Service, name: str) -> None:
    _psql(postgresql, 'DROP DATABASE IF EXISTS :"name" WITH (FORCE)', name=_database_name(name))


def start_ferretdb(postgresql_url: str, port: int, log_path: Path, timeout: float = 30) -> Service:
    """FerretDB on `port`, storing everything in the PostgreSQL database at `postgresql_url`."""
    binary = ferretdb_binary()
    if not binary.exists():
        raise ServiceError(f"{binary} is missing: run `make servers` to build FerretDB")
    argv = [str(binary), "-listen", f"127.0.0.1:{port}", "-postgresql-url", postgresql_url]
    return _start("ferretdb", argv, port, log_path, timeout)


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
