"""The engine layer (storage/engine.py): workarounds on FerretDB, none on MongoDB.

Both modes run against the tests' FerretDB (there is no MongoDB here): a client made for
`mongodb` shows what the layer leaves out (no lock, no claim, no retry, no look-up
first, one command where FerretDB gets several, PyMongo's own pool) and that what it
stores is the same either way. The suite as a whole runs with the workarounds on, as
it must on FerretDB: without them it would lose writes.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from pymongo import ASCENDING, AsyncMongoClient, IndexModel
from pymongo.errors import DuplicateKeyError
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

from core.config import Settings, StorageEngine
from scripts.local_services import free_port
from storage import claims, engine, heatmaps
from storage.database import Client, Database, create_client
from tests.conftest import ServerUrls

ENGINES = [StorageEngine.FERRETDB, StorageEngine.MONGODB]
HANG_GUARD_S = 60.0


class Commands(CommandListener):
    """(command, collection) of each command sent to one database."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.sent: list[tuple[str, Any]] = []

    def started(self, event: CommandStartedEvent) -> None:
        if event.database_name == self.database:
            self.sent.append((event.command_name, event.command.get(event.command_name)))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass

    def names(self) -> list[str]:
        return [name for name, _ in self.sent]

    def on(self, collection: str) -> list[str]:
        return [name for name, target in self.sent if target == collection]


@pytest.fixture
def commands(settings: Settings) -> Commands:
    return Commands(settings.MONGODB_DATABASE)


@pytest_asyncio.fixture(params=ENGINES, ids=lambda e: str(e))
async def mode_db(
    request: pytest.FixtureRequest, servers: ServerUrls, settings: Settings, commands: Commands
) -> AsyncIterator[Database]:
    client = create_client(
        servers.mongodb, app_name="engine-tests", listeners=[commands], engine=request.param
    )
    db = client[settings.MONGODB_DATABASE]
    yield db
    await client.drop_database(settings.MONGODB_DATABASE)
    await client.close()


def _mongodb(db: Database) -> bool:
    return engine.engine_of(db) is StorageEngine.MONGODB


async def test_auto_asks_the_server_and_assumes_ferretdb_when_it_cannot(
    servers: ServerUrls,
) -> None:
    assert await engine.detect(servers.mongodb, StorageEngine.AUTO) is StorageEngine.FERRETDB
    nobody = f"mongodb://127.0.0.1:{free_port()}"
    found = await engine.detect(nobody, StorageEngine.AUTO, within_ms=200)
    assert found is StorageEngine.FERRETDB
    # A setting other than `auto` is taken as said, without asking.
    for setting in ENGINES:
        assert await engine.detect(nobody, setting, within_ms=200) is setting


async def test_only_a_build_info_without_ferretdb_version_means_mongodb(
    mongo_client: Client,
) -> None:
    ferretdb = await mongo_client.admin.command("buildInfo")
    assert engine.engine_answering(ferretdb) is StorageEngine.FERRETDB
    mongodb = {k: v for k, v in ferretdb.items() if k != "ferretdbVersion"}
    assert engine.engine_answering(mongodb) is StorageEngine.MONGODB


async def test_open_client_gives_the_detected_engine(servers: ServerUrls) -> None:
    for setting, expected in [
        (StorageEngine.AUTO, StorageEngine.FERRETDB),
        (StorageEngine.MONGODB, StorageEngine.MONGODB),
    ]:
        client = await engine.open_client(servers.mongodb, app_name="t", setting=setting)
        assert engine.engine_of(client["x"]) is expected
        await client.close()


async def test_the_pool_is_capped_unless_mongodb(servers: ServerUrls) -> None:
    def pool(client: Client) -> int:
        return int(client.options.pool_options.max_pool_size)

    plain: Client = AsyncMongoClient(servers.mongodb)
    made = {
        setting: create_client(servers.mongodb, app_name="t", engine=setting)
        for setting in StorageEngine
    }
    assert pool(made[StorageEngine.MONGODB]) == pool(plain)  # PyMongo's default
    assert pool(made[StorageEngine.FERRETDB]) == engine.FERRETDB_POOL_SIZE < pool(plain)
    assert pool(made[StorageEngine.AUTO]) == engine.FERRETDB_POOL_SIZE  # never asked: safe
    for client in [plain, *made.values()]:
        await client.close()


async def test_serialized_sections_queue_on_ferretdb_and_overlap_on_mongodb(
    mode_db: Database,
) -> None:
    inside: list[int] = []
    most = 0
    entered = asyncio.Event()

    async def section(i: int) -> None:
        nonlocal most
        async with engine.serialized(mode_db, "heatmaps:site-1"):
            inside.append(i)
            most = max(most, len(inside))
            if i == 0 and _mongodb(mode_db):
                await entered.wait()  # the others get in while this one holds it
            entered.set()
            held = await mode_db[claims.COLLECTION].find_one({"_id": "heatmaps:site-1"})
            assert (held is None) is _mongodb(mode_db)
            await asyncio.sleep(0)
            inside.remove(i)

    await asyncio.wait_for(asyncio.gather(*(section(i) for i in range(8))), HANG_GUARD_S)
    assert most == (8 if _mongodb(mode_db) else 1)
    assert await mode_db[claims.COLLECTION].count_documents({}) == 0  # released


async def test_a_lost_upsert_race_is_retried_on_ferretdb_only(mode_db: Database) -> None:
    calls = 0

    async def upsert() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise DuplicateKeyError("E11000 a concurrent upsert created it first", 11000)
        return "updated"

    if _mongodb(mode_db):  # MongoDB retries the upsert itself: an error here is real
        with pytest.raises(DuplicateKeyError):
            await engine.raced_upsert(mode_db, upsert)
        assert calls == 1
    else:
        assert await engine.raced_upsert(mode_db, upsert) == "updated"
        assert calls == 2


async def test_concurrent_first_upserts_of_one_document_all_succeed_on_ferretdb(
    db: Database,
) -> None:
    docs = db["raced"]

    async def upsert() -> None:
        await engine.raced_upsert(
            db, lambda: docs.update_one({"_id": "k"}, {"$set": {"seen": True}}, upsert=True)
        )

    await asyncio.gather(*(upsert() for _ in range(30)))
    assert await docs.find({}).to_list(None) == [{"_id": "k", "seen": True}]


async def test_replace_many_stores_the_same_documents_by_other_commands(
    mode_db: Database, commands: Commands
) -> None:
    docs = mode_db["replaced"]
    await docs.insert_many([{"_id": f"e{i}", "s": "a", "v": 0} for i in range(4)])
    fresh = [{"_id": f"e{i}", "s": "a", "v": 1} for i in (2, 3, 4, 5)]
    commands.sent.clear()

    written = await engine.replace_many(
        docs, fresh, stored={"e2", "e3"}, filter_of=lambda d: {"_id": d["_id"], "s": d["s"]}
    )

    sent = commands.on("replaced")
    assert written == 4
    stored = await docs.find({}, sort=[("_id", ASCENDING)]).to_list(None)
    assert stored == [{"_id": f"e{i}", "s": "a", "v": int(i >= 2)} for i in range(6)]
    assert sent == (["update"] if _mongodb(mode_db) else ["delete", "delete", "insert"])


async def test_a_unique_clash_on_update_is_looked_for_first_on_ferretdb_only(
    mode_db: Database, commands: Commands
) -> None:
    docs = mode_db["people"]
    await docs.create_indexes([IndexModel([("email", ASCENDING)], unique=True)])
    await docs.insert_many([{"_id": "a", "email": "a@x"}, {"_id": "b", "email": "b@x"}])
    commands.sent.clear()

    await engine.update_unique(docs, "b", {"$set": {"email": "c@x"}}, unique={"email": "c@x"})

    looked = [] if _mongodb(mode_db) else ["find"]
    assert commands.on("people") == [*looked, "update"]
    assert await docs.find_one({"_id": "b"}) == {"_id": "b", "email": "c@x"}
    if not _mongodb(mode_db):  # FerretDB itself would report it as an internal error
        with pytest.raises(DuplicateKeyError):
            await engine.update_unique(
                docs, "b", {"$set": {"email": "a@x"}}, unique={"email": "a@x"}
            )
        assert await docs.find_one({"_id": "b"}) == {"_id": "b", "email": "c@x"}


async def test_indexes_are_created_in_one_command_on_mongodb(
    mode_db: Database, commands: Commands
) -> None:
    models = [IndexModel([(name, ASCENDING)], name=name) for name in ("a", "b", "c")]
    await engine.create_indexes(mode_db["indexed"], models)

    sent = commands.names().count("createIndexes")
    assert sent == (1 if _mongodb(mode_db) else 3)
    names = {index["name"] async for index in await mode_db["indexed"].list_indexes()}
    assert names == {"_id_", "a", "b", "c"}


async def test_heatmap_writes_take_the_site_claim_on_ferretdb_only(
    mode_db: Database, commands: Commands
) -> None:
    key = heatmaps.BucketKey("site-1", "click", "example.com/", "desktop", 2, 1_795_000_000_000)
    increments = heatmaps.Increments()
    increments.add(key, "total")

    await heatmaps.apply(mode_db, increments)

    claimed = commands.on(claims.COLLECTION)
    assert claimed == ([] if _mongodb(mode_db) else ["findAndModify", "insert", "delete"] * 2)
    stored = await mode_db[heatmaps.COLLECTION].find_one({"_id": key.doc_id})
    assert stored is not None
    assert heatmaps.counters(stored)["total"] == 1
