"""What FerretDB needs and MongoDB does not: the one place the code adapts to its engine.

Production runs on MongoDB; `make run`, the tests and the benchmarks on FerretDB 1.24
(docs/deployment.md). FerretDB applies an update as read, modify, write back outside a
transaction, so concurrent `$inc`/`$push` on one document lose writes; it does not retry
an upsert that lost a race on a unique key; it reports a unique-index clash on update as
an internal error; it crashes on a createIndexes of several indexes that all exist on a
collection holding documents; it hangs for good once as many updates run at once as its
own pool has connections. Each workaround is here, behind an operation the rest of
storage calls, and is on unless the engine is MongoDB, which updates atomically, retries
such upserts itself and reports a clash as a duplicate key.

The engine is `SIGHTLINE_STORAGE_ENGINE`; `auto`, the default, asks the server once at
start-up (FerretDB answers `buildInfo` with a `ferretdbVersion`) and assumes FerretDB when
that fails: a workaround costs MongoDB some time, a missing one costs FerretDB writes.
The layer changes how documents are written and locked, never what is stored, so either
engine reads what the other wrote. Nothing outside it branches on the engine
(tests/test_engine_quirks_confined.py checks).
"""

import asyncio
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TypeVar

from pymongo import AsyncMongoClient, IndexModel, ReplaceOne, common
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from core.config import StorageEngine
from storage import claims
from storage.crash_points import crash_point
from storage.database import (
    DEFAULT_LIMITS,
    Client,
    CommandListener,
    Database,
    Document,
    StorageLimits,
    create_client,
    one_by_one,
)

T = TypeVar("T")

# FerretDB on PostgreSQL hangs for good once as many updates run at once as its own pool
# has connections (80, scripts/local_services.py): each holds one while it waits for a
# second. 20 per process keeps an API and two workers below it. MongoDB: PyMongo's default.
FERRETDB_POOL_SIZE = 20
# How long a `serialized` section may hold its name before another process may take it.
SERIALIZED_LEASE = timedelta(seconds=30)
SERIALIZED_POLL_S = 0.01
DETECT_TIMEOUT_MS = 5000
DUPLICATE_KEY = 11000

_ENGINES: dict[int, StorageEngine] = {}
_Locks = weakref.WeakValueDictionary[str, asyncio.Lock]  # a name's lock lives while used
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Locks] = weakref.WeakKeyDictionary()


async def detect(
    url: str, setting: StorageEngine, *, within_ms: int = DETECT_TIMEOUT_MS
) -> StorageEngine:
    """The engine at `url`: `setting` unless `auto`, else asked once; FerretDB if unsure."""
    if setting is not StorageEngine.AUTO:
        return setting
    try:
        probe: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            url, maxPoolSize=1, serverSelectionTimeoutMS=within_ms
        )
        try:
            return engine_answering(await probe.admin.command("buildInfo"))
        finally:
            await probe.close()
    except PyMongoError:
        return StorageEngine.FERRETDB


def engine_answering(build_info: Mapping[str, Any]) -> StorageEngine:
    """FerretDB says so in `buildInfo` (`ferretdbVersion`); MongoDB has no such field."""
    return StorageEngine.FERRETDB if "ferretdbVersion" in build_info else StorageEngine.MONGODB


async def open_client(
    url: str,
    *,
    app_name: str,
    setting: StorageEngine,
    listeners: Sequence[CommandListener] = (),
    limits: StorageLimits = DEFAULT_LIMITS,
) -> Client:
    """The process's client (`storage.database.create_client`) for the engine `setting` says
    or, for `auto`, the server answers; start-up opens it once, the engine known from then on."""
    engine = await detect(url, setting)
    return create_client(url, app_name=app_name, listeners=listeners, engine=engine, limits=limits)


def client_options(engine: StorageEngine) -> dict[str, Any]:
    """The driver's pool options for a client of `engine`."""
    ferretdb = engine is not StorageEngine.MONGODB
    return {"maxPoolSize": FERRETDB_POOL_SIZE if ferretdb else common.MAX_POOL_SIZE}


def register(client: Client, engine: StorageEngine) -> None:
    """Record which engine `client` talks to (`storage.database.create_client` does)."""
    key = id(client)  # clients compare equal by address: a dict by identity, not by value
    _ENGINES[key] = engine
    weakref.finalize(client, _ENGINES.pop, key, None)


def engine_of(db: Database) -> StorageEngine:
    """The engine `db`'s client was created for (FerretDB when it was never said)."""
    engine = _ENGINES.get(id(db.client), StorageEngine.FERRETDB)
    return StorageEngine.MONGODB if engine is StorageEngine.MONGODB else StorageEngine.FERRETDB


def _ferretdb(db: Database) -> bool:
    return engine_of(db) is StorageEngine.FERRETDB


@asynccontextmanager
async def serialized(db: Database, name: str) -> AsyncIterator[None]:
    """One holder of `name` at a time, across processes, on FerretDB; nothing on MongoDB.

    For writes that are correct only when no other writer updates the same documents
    meanwhile on FerretDB (whose updates are read, modify, write back). Inside one process
    a lock queues the holders; across processes a claim does (`storage.claims`, released
    at the end, left to run out if the process dies).
    """
    if not _ferretdb(db):
        yield
        return
    async with _lock(name), _claim(db, name):
        yield


def _lock(name: str) -> asyncio.Lock:
    locks = _LOCKS.setdefault(asyncio.get_running_loop(), _Locks())
    lock = locks.get(name)
    if lock is None:
        lock = locks[name] = asyncio.Lock()
    return lock


@asynccontextmanager
async def _claim(db: Database, name: str) -> AsyncIterator[None]:
    holder = uuid.uuid4().hex
    while True:  # the holder may be another process: nothing to wait on but the claim
        if await claims.acquire(db, name, holder, SERIALIZED_LEASE):
            break
        await asyncio.sleep(SERIALIZED_POLL_S)
    try:
        yield
    finally:
        await claims.release(db, name, holder)


async def raced_upsert(db: Database, upsert: Callable[[], Awaitable[T]]) -> T:
    """Run `upsert` (by a unique key); on FerretDB, again when a concurrent one won the race.

    Two writers can create the same document at once: the unique index lets one win and
    the other's update must then apply to the winner's document. MongoDB retries such an
    upsert itself; FerretDB raises DuplicateKeyError, and the second try updates.
    """
    if not _ferretdb(db):
        return await upsert()
    try:
        return await upsert()
    except DuplicateKeyError:
        return await upsert()


async def replace_many(
    collection: AsyncCollection[Document],
    documents: list[Document],
    *,
    stored: Collection[str],
    filter_of: Callable[[Document], Document],
) -> int:
    """Write `documents` whole, replacing the stored versions (`_id`s in `stored`); how many
    were written, a document a concurrent writer stored first not counted.

    MongoDB: one bulk of upserting replaces. FerretDB: the stored versions deleted (one
    statement each), then one insert, as a bulk of replaces is not answered completely
    there. A crash between the two loses nothing when the caller marks its input done
    only afterwards: the next run writes the documents again.
    """
    if not documents:
        return 0
    if not _ferretdb(collection.database):
        return await _bulk_replace(collection, documents, filter_of)
    replaced = [doc for doc in documents if doc["_id"] in stored]
    await one_by_one(collection.delete_one(filter_of(doc)) for doc in replaced)
    crash_point(f"{collection.name}.deleted_for_rewrite")
    try:
        result = await collection.insert_many(documents, ordered=False)
    except BulkWriteError as exc:
        _raise_unless_duplicates(exc)
        return int(exc.details.get("nInserted", 0))
    return len(result.inserted_ids)


async def _bulk_replace(
    collection: AsyncCollection[Document],
    documents: list[Document],
    filter_of: Callable[[Document], Document],
) -> int:
    requests = [ReplaceOne(filter_of(doc), doc, upsert=True) for doc in documents]
    try:
        result = await collection.bulk_write(requests, ordered=False)
    except BulkWriteError as exc:
        _raise_unless_duplicates(exc)
        return int(exc.details.get("nUpserted", 0)) + int(exc.details.get("nMatched", 0))
    return result.upserted_count + result.matched_count


def _raise_unless_duplicates(exc: BulkWriteError) -> None:
    """Duplicates mean a concurrent writer stored the same documents first; others raise."""
    if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
        raise exc


async def update_unique(
    collection: AsyncCollection[Document], doc_id: str, update: Document, *, unique: Document
) -> None:
    """Update one document by `_id`; DuplicateKeyError when that would give it the `unique`
    values another document has (the fields of a unique index).

    MongoDB raises that itself; FerretDB reports the clash as an internal error, so there
    another holder of the values is looked for first.
    """
    if unique and _ferretdb(collection.database):
        clash = await collection.find_one({**unique, "_id": {"$ne": doc_id}}, {"_id": 1})
        if clash is not None:
            raise DuplicateKeyError(f"{sorted(unique)} already used", DUPLICATE_KEY)
    await collection.update_one({"_id": doc_id}, update)


async def create_indexes(collection: AsyncCollection[Document], models: list[IndexModel]) -> None:
    """Create the indexes of `models` that are missing: one command on MongoDB, one per
    index on FerretDB, which crashes on several when they all exist and documents do."""
    if not _ferretdb(collection.database):
        await collection.create_indexes(models)
        return
    for model in models:
        await collection.create_indexes([model])
