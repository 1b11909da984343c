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


async def apply(db: Database, increments: Increments) -> None:
    for key, counters in increments.by_bucket.items():
        identity = {
            "site_id": key.site_id,
            "kind": key.kind,
            "page": key.page,
            "device": key.device,
            "band": key.band,
            "day": key.day,
        }
        update = {"$setOnInsert": identity, "$inc": counters}
        try:
            await db[COLLECTION].update_one({"_id": key.doc_id}, update, upsert=True)
        except DuplicateKeyError:
            # Another job created the bucket between our lookup and insert; MongoDB
            # retries such an upsert itself, FerretDB does not. Now it exists: update it.
            await db[COLLECTION].update_one({"_id": key.doc_id}, update, upsert=True)


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
