"""A few hundred concurrent updates from several processes' clients all land.

FerretDB on PostgreSQL holds a connection of its pool for an update's query while it
takes a second one for the write, so once as many updates run at once as its pool has
connections, they wait on each other for good. The driver's pool (storage.database)
bounds what one process puts on FerretDB; these tests put an API's and two workers'
worth of clients under a burst of updates, in rounds so that the drivers' pools grow to
whatever they allow, on documents big enough that updates overlap. The bound on the
wait only turns a hang into a failure; the FerretDB is the test's own, so a hung one
is stopped with the test instead of stalling the others.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest_asyncio

from core.config import Settings
from scripts.local_services import Service
from storage.database import Client, create_client

PROCESSES = 3  # an API and two workers
CONCURRENT_UPDATES = 300
ROUNDS = 5
PADDING = "x" * 10_000
HANG_GUARD_S = 300.0


@pytest_asyncio.fixture
async def clients(own_mongodb: Service) -> AsyncIterator[list[Client]]:
    made = [create_client(own_mongodb.url, app_name="sightline-tests") for _ in range(PROCESSES)]
    yield made
    for client in made:
        await client.close()


async def _rounds(update: Callable[[int, int], Awaitable[object]]) -> None:
    """`update(i, round)` for every i at once, round after round."""

    async def run() -> None:
        for round_ in range(ROUNDS):
            await asyncio.gather(*(update(i, round_) for i in range(CONCURRENT_UPDATES)))

    await asyncio.wait_for(run(), HANG_GUARD_S)


async def test_concurrent_updates_of_distinct_documents_all_land(
    clients: list[Client], settings: Settings
) -> None:
    collections = [client[settings.MONGODB_DATABASE]["distinct"] for client in clients]
    await collections[0].insert_many(
        [{"_id": i, "n": -1, "padding": PADDING} for i in range(CONCURRENT_UPDATES)]
    )

    async def update(i: int, round_: int) -> None:
        docs = collections[i % PROCESSES]
        result = await docs.update_one({"_id": i}, {"$set": {"n": round_}})
        assert result.matched_count == 1

    await _rounds(update)
    stored = {doc["_id"]: doc["n"] async for doc in collections[0].find({}, {"padding": 0})}
    assert stored == dict.fromkeys(range(CONCURRENT_UPDATES), ROUNDS - 1)


async def test_concurrent_updates_of_one_document_all_land(
    clients: list[Client], settings: Settings
) -> None:
    collections = [client[settings.MONGODB_DATABASE]["one"] for client in clients]
    await collections[0].insert_one({"_id": "one", "n": -1, "padding": PADDING})

    async def update(i: int, round_: int) -> None:
        docs = collections[i % PROCESSES]
        result = await docs.update_one({"_id": "one"}, {"$set": {"n": round_}})
        assert result.matched_count == 1

    await _rounds(update)
    stored = await collections[0].find_one({"_id": "one"})
    assert stored is not None
    assert stored["n"] == ROUNDS - 1
