"""Heatmap rollups: counters per site, page, device type, viewport band, kind and day.

Reading a heatmap costs the number of these documents (one per day and band in
the range), never the number of events behind them. They hold no identifier
of a visitor or session, so erasures leave them (see docs/privacy.md).
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pymongo.errors import DuplicateKeyError

from storage.database import Database, Document

COLLECTION = "heatmap_rollups"
DAY_MS = 86_400_000
MAX_TIME_MS = 5000


@dataclass(frozen=True)
class BucketKey:
    site_id: str
    kind: str  # click, move or scroll
    page: str
    device: str
    band: int
    day: int  # epoch ms of the day's start (UTC)

    @property
    def doc_id(self) -> str:
        raw = orjson.dumps([self.site_id, self.kind, self.page, self.device, self.band, self.day])
        return hashlib.sha256(raw).hexdigest()[:32]


@dataclass
class Increments:
    """Counter increments gathered in memory, written as one `$inc` per bucket."""

    by_bucket: dict[BucketKey, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, key: BucketKey, counter: str, amount: int = 1) -> None:
        counters = self.by_bucket[key]
        counters[counter] = counters.get(counter, 0) + amount

    def __len__(self) -> int:
        return len(self.by_bucket)


def day_of(timestamp_ms: int) -> int:
    return timestamp_ms - timestamp_ms % DAY_MS


def _identity(key: BucketKey) -> Document:
    return {
        "site_id": key.site_id,
        "kind": key.kind,
        "page": key.page,
        "device": key.device,
        "band": key.band,
        "day": key.day,
    }


async def apply(db: Database, increments: Increments) -> None:
    for key, counters in increments.by_bucket.items():
        await db[COLLECTION].update_one(
            {"_id": key.doc_id}, {"$setOnInsert": _identity(key), "$inc": counters}, upsert=True
        )


async def apply_once(db: Database, token: str, increments: Increments) -> None:
    """Add `increments`, each bucket at most once for `token`, whatever ran before.

    A bucket keeps the tokens it has counted (in `applied`) until `forget` drops
    them, so a run repeated after a crash, or an upsert that lost a race with
    another worker's insert of the same bucket, adds nothing twice.
    """
    for key, counters in increments.by_bucket.items():
        await _apply_bucket(db, token, key, counters)


async def _apply_bucket(db: Database, token: str, key: BucketKey, counters: dict[str, int]) -> None:
    update = {"$setOnInsert": _identity(key), "$inc": counters, "$push": {"applied": token}}
    for _ in range(3):
        try:
            await db[COLLECTION].update_one(
                {"_id": key.doc_id, "applied": {"$ne": token}}, update, upsert=True
            )
            return
        except DuplicateKeyError:
            # Either the bucket counted `token` already, or another worker created it
            # between our filter and our insert (FerretDB does not retry that upsert).
            counted = await db[COLLECTION].find_one(
                {"_id": key.doc_id, "applied": token}, projection={"_id": 1}
            )
            if counted is not None:
                return
    raise RuntimeError(f"heatmap bucket {key.doc_id} could not be updated")


async def forget(db: Database, token: str, keys: list[BucketKey]) -> None:
    """Drop `token` from the buckets once nothing can apply it again."""
    if keys:
        await db[COLLECTION].update_many(
            {"_id": {"$in": [k.doc_id for k in keys]}}, {"$pull": {"applied": token}}
        )


def to_document(increments: Increments) -> list[Document]:
    """Increments in a form FerretDB stores: counter names hold dots (so they are values
    here) and nested arrays are refused (so names and amounts are two arrays)."""
    return [
        {
            "key": list(_identity(key).values()),
            "names": list(counters),
            "amounts": list(counters.values()),
        }
        for key, counters in increments.by_bucket.items()
    ]


def from_document(stored: list[Document]) -> Increments:
    increments = Increments()
    for bucket in stored:
        key = BucketKey(*bucket["key"])
        for counter, amount in zip(bucket["names"], bucket["amounts"], strict=True):
            increments.add(key, counter, amount)
    return increments


@dataclass(frozen=True)
class HeatmapQuery:
    site_id: str
    kind: str
    page: str
    device: str | None
    start: datetime
    end: datetime


async def read(db: Database, q: HeatmapQuery) -> list[Document]:
    query: dict[str, Any] = {
        "site_id": q.site_id,
        "kind": q.kind,
        "page": q.page,
        "day": {
            "$gte": day_of(int(q.start.timestamp() * 1000)),
            "$lt": int(q.end.timestamp() * 1000),
        },
    }
    if q.device:
        query["device"] = q.device
    cursor = db[COLLECTION].find(query, max_time_ms=MAX_TIME_MS, limit=10_000)
    return await cursor.to_list(None)
