"""Heatmap counters written by several workers at once (real FerretDB)."""

import asyncio

from storage import heatmaps
from storage.database import Database

KEY = heatmaps.BucketKey("site-1", "click", "example.com/", "desktop", 2, 1_795_000_000_000)


def _one_click() -> heatmaps.Increments:
    increments = heatmaps.Increments()
    increments.add(KEY, "cells.c10r4")
    increments.add(KEY, "total")
    return increments


async def test_concurrent_first_writes_to_one_bucket_do_not_fail(db: Database) -> None:
    # Jobs of different sessions on one page create the same rollup document at once.
    # FerretDB does not retry an upsert that lost the race (MongoDB does); the job
    # failed with DuplicateKeyError and its session waited for the next sweep.
    # FerretDB 1.24 also loses concurrent updates of one document; writes of one
    # process are serialised, so every click is counted.
    await asyncio.gather(*(heatmaps.apply(db, _one_click()) for _ in range(24)))
    stored = await db[heatmaps.COLLECTION].find_one({"_id": KEY.doc_id})
    assert stored is not None
    assert stored["page"] == "example.com/"
    assert heatmaps.counters(stored)["total"] == 24
