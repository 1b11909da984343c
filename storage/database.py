"""The MongoDB client, its settings, time budgets for its commands, and a liveness check."""

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import pymongo
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.monitoring import CommandListener as CommandListener  # re-exported for the app

from core.config import StorageEngine

Document = dict[str, Any]
Database = AsyncDatabase[Document]
Client = AsyncMongoClient[Document]

# Single-document commands of one read or job in flight at once (`one_by_one`).
ONE_BY_ONE_IN_FLIGHT = 4

T = TypeVar("T")


def create_client(
    url: str,
    *,
    app_name: str,
    listeners: Sequence[CommandListener] = (),
    engine: StorageEngine = StorageEngine.AUTO,
) -> Client:
    """One client per process, created inside the running event loop, for `engine`.

    The constructor does no I/O; the first operation connects. `listeners` (PyMongo's
    command monitoring) see every command the client sends: tests record them. `engine`
    is what the server is (`storage.engine.open_client` asks it); left `auto`, the
    client gets every workaround of storage/engine.py, which are safe on MongoDB too.
    """
    from storage import engine as storage_engine  # here, as storage.engine builds on this module

    client: Client = AsyncMongoClient(
        url,
        appname=app_name,
        event_listeners=list(listeners),
        tz_aware=True,
        uuidRepresentation="standard",
        serverSelectionTimeoutMS=5000,
        connectTimeoutMS=5000,
        waitQueueTimeoutMS=5000,
        **storage_engine.client_options(engine),
    )
    storage_engine.register(client, engine)
    return client


def database_of(client: Client, name: str) -> Database:
    """The application's database on `client`."""
    return client[name]


async def close_client(client: Client) -> None:
    await client.close()


async def ping(db: Database, *, within_s: float = 2.0) -> None:
    """Raise one of `storage.errors.STORAGE_ERRORS` unless the server answers in time."""
    with time_budget(within_s):
        await db.command("ping")


def time_budget(seconds: float) -> AbstractContextManager[None]:
    """At most `seconds` for all the storage work of the block, however many commands.

    The driver's client-side operation timeout, held in a context variable that tasks
    started inside inherit: every command carries the time left as `maxTimeMS`, and
    once it is spent the next command fails (`storage.errors.STORAGE_TIMEOUTS`)
    before it is sent. Nested budgets: the nearer deadline wins.
    """
    return pymongo.timeout(seconds)


def time_limit(max_time_ms: int) -> AbstractContextManager[None]:
    """At most `max_time_ms` for the block's commands, never past an enclosing budget.

    Inside `pymongo.timeout` (every GraphQL operation runs in one) the driver
    replaces a command's own `maxTimeMS` with the time left, so a per-query
    limit tighter than the budget has to be a nested timeout: the nearer
    deadline wins.
    """
    return time_budget(max_time_ms / 1000)


async def one_by_one(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Await single-document commands a few at a time; their results in order.

    For a few documents addressed by `_id` each: FerretDB pushes `_id` equality down to
    PostgreSQL but never `_id: {$in: …}`, which costs a decode of every row instead.
    """
    gate = asyncio.Semaphore(ONE_BY_ONE_IN_FLIGHT)

    async def one(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    return list(await asyncio.gather(*(one(call) for call in calls)))
