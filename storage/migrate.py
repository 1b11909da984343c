"""Data migrations: named steps over a collection, each resumable from its progress marker.

    .venv/bin/python -m storage.migrate [--batch-size N]

A step reads its collection once in `_id` order and applies itself to each batch;
after each batch its marker document (`migrations`, `_id` = the step's name) is
replaced whole with the last `_id` done, so a run stopped anywhere resumes there,
and a finished step is skipped for good. Steps must be idempotent: a batch done
again after a crash, or by two processes at once, changes nothing the second
time. Start-up (`storage.indexes.ensure_indexes`) runs the steps not yet done,
and readers that need a step's result ask `is_done` and keep their old way
until then.
"""

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from core.config import Settings
from storage import engine, event_block_backfill, session_backfill
from storage.database import Database, Document, StorageLimits, close_client, database_of

COLLECTION = "migrations"
BATCH_SIZE = 500


@dataclass(frozen=True)
class Step:
    name: str
    collection: str
    projection: Document
    apply: Callable[[Database, list[Document]], Awaitable[None]]


STEPS: list[Step] = [
    Step(
        session_backfill.STEP,
        session_backfill.COLLECTION,
        session_backfill.PROJECTION,
        session_backfill.apply,
    ),
    Step(
        event_block_backfill.STEP,
        event_block_backfill.COLLECTION,
        event_block_backfill.PROJECTION,
        event_block_backfill.apply,
    ),
]


async def is_done(db: Database, name: str) -> bool:
    marker = await db[COLLECTION].find_one({"_id": name}, projection={"done": 1})
    return bool(marker and marker.get("done"))


async def run_step(
    db: Database, step: Step, *, batch_size: int = BATCH_SIZE, stop_after: int | None = None
) -> bool:
    """Run `step` from its marker on; True once it is done. `stop_after` batches at most
    (a run cut short, as a crash would leave it)."""
    marker = await db[COLLECTION].find_one({"_id": step.name}) or {}
    if marker.get("done"):
        return True
    after, count = marker.get("after"), marker.get("count", 0)
    query = {} if after is None else {"_id": {"$gt": after}}
    # One pass in `_id` order (FerretDB sorts in Go once; on MongoDB the `_id` index).
    cursor = db[step.collection].find(
        query, projection=step.projection, sort=[("_id", 1)], batch_size=batch_size
    )
    batch: list[Document] = []
    batches = 0
    async for doc in cursor:
        batch.append(doc)
        if len(batch) == batch_size:
            await step.apply(db, batch)
            count += len(batch)
            await _save(db, step.name, {"after": batch[-1]["_id"], "count": count})
            batch, batches = [], batches + 1
            if stop_after is not None and batches >= stop_after:
                await cursor.close()
                return False
    if batch:
        await step.apply(db, batch)
        count += len(batch)
    # Done: the marker keeps no document id (an erased session's id must not stay here).
    await _save(db, step.name, {"done": True, "count": count})
    return True


async def _save(db: Database, name: str, progress: Document) -> None:
    marker = {"_id": name, **progress, "updated_at": datetime.now(UTC)}
    await db[COLLECTION].replace_one({"_id": name}, marker, upsert=True)


async def run_pending(db: Database, *, batch_size: int = BATCH_SIZE) -> None:
    for step in STEPS:
        await run_step(db, step, batch_size=batch_size)


async def _main(batch_size: int) -> None:
    settings = Settings()
    client = await engine.open_client(
        settings.mongodb_url,
        app_name="sightline-migrate",
        setting=settings.SIGHTLINE_STORAGE_ENGINE,
        limits=StorageLimits.of(settings),
    )
    try:
        db = database_of(client, settings.MONGODB_DATABASE)
        for step in STEPS:
            done = await run_step(db, step, batch_size=batch_size)
            print(f"{step.name}: {'done' if done else 'stopped'}")
    finally:
        await close_client(client)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    asyncio.run(_main(parser.parse_args().batch_size))


if __name__ == "__main__":
    main()
