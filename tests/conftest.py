"""Fixtures for tests against real servers.

One PostgreSQL, one FerretDB on it and one Redis are started for the whole run
(unless MONGODB_URL and REDIS_URL point at servers already), and every test gets
its own MongoDB database, its own queue name and an empty Redis database. A test
that stops "its own FerretDB" gets one on a PostgreSQL database of its own in the
same cluster, which outlives the FerretDB's restarts.
"""

import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from hypothesis import settings as hypothesis_settings
from redis.asyncio import Redis
from starlette.applications import Starlette

from api.app import create_app
from core.config import LogFormat, Settings, StorageEngine, load_settings
from core.logs import configure_logging
from scripts.local_services import (
    Service,
    drop_postgresql_database,
    free_port,
    postgresql_database,
    start_ferretdb,
    start_postgresql,
    start_redis,
)
from storage.database import Client, Database
from storage.engine import open_client
from tests.app_helpers import make_app
from tests.world_fixtures import account, api_key, ingest_recording, site  # noqa: F401 - fixtures

PUBLIC_URL = "http://sightline.test"  # the test clients' base URL too, so links work as given
# The storage engine the tests' clients and processes assume (storage/engine.py): `auto`
# finds FerretDB, so its workarounds are on; SIGHTLINE_STORAGE_ENGINE=ferretdb says so.
STORAGE_ENGINE = StorageEngine(os.environ.get("SIGHTLINE_STORAGE_ENGINE", "auto"))


# Property tests run the same examples every time, so a red run is reproducible and `make test`
# never fails on a case no one can find again; SIGHTLINE_HYPOTHESIS=explore draws new ones.
hypothesis_settings.register_profile("fixed", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile(os.environ.get("SIGHTLINE_HYPOTHESIS", "fixed"))


@dataclass(frozen=True)
class ServerUrls:
    mongodb: str
    redis: str


@pytest.fixture(scope="session", autouse=True)
def _logging() -> None:
    configure_logging(LogFormat.CONSOLE, "INFO")
    logging.getLogger("pymongo").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def postgresql() -> Iterator[Service]:
    """The run's PostgreSQL cluster.

    Not under pytest's temporary folder: that is private to its owner, and when the
    tests run as root PostgreSQL runs as a system user that must reach its data.
    """
    base = Path(tempfile.mkdtemp(prefix="sightline-tests-"))
    base.chmod(0o755)
    try:
        service = start_postgresql(base / "postgresql", free_port())
        yield service
        service.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerUrls]:
    mongodb_url, redis_url = os.environ.get("MONGODB_URL"), os.environ.get("REDIS_URL")
    started: list[Service] = []
    base = tmp_path_factory.mktemp("services")
    try:
        if not mongodb_url:
            cluster: Service = request.getfixturevalue("postgresql")
            storage = postgresql_database(cluster, "ferretdb")
            started.append(start_ferretdb(storage, free_port(), base / "ferretdb.log"))
            mongodb_url = started[-1].url
        if not redis_url:
            started.append(start_redis(base / "redis", free_port()))
            redis_url = started[-1].url
        yield ServerUrls(mongodb=mongodb_url, redis=redis_url)
    finally:
        for service in started:
            service.stop()


@pytest.fixture
def settings(servers: ServerUrls) -> Settings:
    run = uuid.uuid4().hex[:12]
    return load_settings(
        {},
        MONGODB_URL=servers.mongodb,
        REDIS_URL=servers.redis,
        MONGODB_DATABASE=f"test_{run}",
        SIGHTLINE_QUEUE_NAME=f"test:{run}",
        SIGHTLINE_ENV="development",
        SIGHTLINE_PUBLIC_URL=PUBLIC_URL,
        SIGHTLINE_PROCESS_DELAY_S=0,
        SIGHTLINE_STORAGE_ENGINE=STORAGE_ENGINE,
    )


@pytest_asyncio.fixture(scope="session")
async def mongo_client(servers: ServerUrls) -> AsyncIterator[Client]:
    client = await open_client(servers.mongodb, app_name="sightline-tests", setting=STORAGE_ENGINE)
    yield client
    await client.close()


@pytest_asyncio.fixture
async def db(mongo_client: Client, settings: Settings) -> AsyncIterator[Database]:
    database = mongo_client[settings.MONGODB_DATABASE]
    yield database
    await mongo_client.drop_database(settings.MONGODB_DATABASE)


@pytest_asyncio.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The API built from `settings`, with its lifespan, behind an HTTP client."""
    application = make_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://sightline.test") as c:
            yield c


@pytest_asyncio.fixture
async def app(settings: Settings, db: Database, redis: Redis) -> AsyncIterator[Starlette]:
    application = make_app(settings)
    async with LifespanManager(application):
        yield application


@pytest_asyncio.fixture
async def production_client(
    settings: Settings, db: Database, redis: Redis
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with argon2id at its production cost (the other fixtures use a cheap one)."""
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://sightline.test") as c:
            yield c


@pytest_asyncio.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sightline.test") as c:
        yield c


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest_asyncio.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[Service]:
    """A Redis of the test's own, which the test may stop."""
    service = start_redis(tmp_path / "redis", free_port())
    yield service
    service.stop()


@pytest_asyncio.fixture
async def own_mongodb(postgresql: Service, tmp_path: Path) -> AsyncIterator[Service]:
    """A FerretDB of the test's own, which the test may stop and start again
    (`start_again`): its data lives in a PostgreSQL database of its own."""
    name = f"own_{uuid.uuid4().hex[:12]}"
    storage = postgresql_database(postgresql, name)
    service = start_ferretdb(storage, free_port(), tmp_path / "ferretdb.log")
    yield service
    service.stop()
    drop_postgresql_database(postgresql, name)
