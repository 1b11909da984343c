"""The MongoDB client, its settings, time budgets for its commands, and a liveness check."""

import asyncio
import weakref
from collections.abc import Awaitable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

import pymongo
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.monitoring import CommandListener as CommandListener  # re-exported for the app

from core.config import Settings, StorageEngine

Document = dict[str, Any]
Database = AsyncDatabase[Document]
Client = AsyncMongoClient[Document]

# Single-document commands of one read or job in flight at once (`one_by_one`).
ONE_BY_ONE_IN_FLIGHT = 4

T = TypeVar("T")


@dataclass(frozen=True)
class StorageLimits:
    """How long a client waits for a server, and how long a search may run on it."""

    server_selection_ms: int
    query_ms: int  # a search's own `maxTimeMS`, within any enclosing budget (`query_limit`)

    @classmethod
    def of(cls, settings: Settings) -> "StorageLimits":
        return cls(
            server_selection_ms=settings.SIGHTLINE_STORAGE_SELECTION_TIMEOUT_MS,
            query_ms=settings.SIGHTLINE_STORAGE_QUERY_TIMEOUT_MS,
        )


def _default(name: str) -> int:
    value: int = Settings.model_fields[name].default
    return value


# The settings' defaults, for clients made without settings (tools, benchmarks).
DEFAULT_LIMITS = StorageLimits(
    server_selection_ms=_default("SIGHTLINE_STORAGE_SELECTION_TIMEOUT_MS"),
    query_ms=_default("SIGHTLINE_STORAGE_QUERY_TIMEOUT_MS"),
)
_LIMITS: dict[int, StorageLimits] = {}


def create_client(
    url: str,
    *,
    app_name: str,
    listeners: Sequence[CommandListener] = (),
    engine: StorageEngine = StorageEngine.AUTO,
    limits: StorageLimits = DEFAULT_LIMITS,
) -> Client:
    """One client per process, created inside the running event loop, for `engine`.

    The constructor does no I/O; the first operation connects. `listeners` (PyMongo's
    command monitoring) see every command the client sends: tests record them. `engine`
    is what the server is (`storage.engine.open_client` asks it); left `auto`, the
    client gets every workaround of storage/engine.py, which are safe on MongoDB too.
    `limits` are the settings' (`StorageLimits.of`); searches read theirs with `query_limit`.
    """
    from storage import engine as storage_engine  # here, as storage.engine builds on this module

    client: Client = AsyncMongoClient(
        url,
        appname=app_name,
        event_listeners=list(listeners),
        tz_aware=True,
        uuidRepresentation="standard",
        serverSelectionTimeoutMS=limits.server_selection_ms,
        connectTimeoutMS=5000,
        waitQueueTimeoutMS=5000,
        **storage_engine.client_options(engine),
    )
    storage_engine.register(client, engine)
    key = id(client)  # clients compare equal by address: a dict by identity, not by value
    _LIMITS[key] = limits
    weakref.finalize(client, _LIMITS.pop, key, None)
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


def query_time_ms(db: Database) -> int:
    """How long one search may run on `db` (`SIGHTLINE_STORAGE_QUERY_TIMEOUT_MS`)."""
    return _LIMITS.get(id(db.client), DEFAULT_LIMITS).query_ms


def query_limit(db: Database) -> AbstractContextManager[None]:
    """`time_limit` at the search limit of `db`'s client."""
    return time_limit(query_time_ms(db))


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
