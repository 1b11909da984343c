"""Heatmap rollups: counters per site, page, device type, viewport band, kind and day.

Every rollup document is addressed by `_id` (a hash of its key), and each page
has a catalog document, also addressed by `_id`, that lists its rollup keys with
their totals. A read is one catalog lookup plus one lookup per (device, band,
day) it needs: `_id` equality is the one query FerretDB answers without
decoding the whole collection. A rollup holds its counters as packed deltas (one
binary per batch, summed into one every `FOLD_AT` batches) rather than one field
per grid cell: decoding thousands of fields was most of a read's cost. Each delta is a
`core.heatmap_counts` binary (a compressed dense grid plus the few named counters), so a
day of a busy page stays a few kilobytes to fetch and one array to add; deltas written
before hold a JSON map of counter names, and older rollups one field per counter, and are
read the same way (and rewritten in the binary form by their next fold).
Neither holds an identifier of a visitor or session, so erasures leave them (see
docs/privacy.md); site deletion removes both by `site_id`.
"""

import asyncio
import contextlib
import hashlib
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from bson import Binary
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from core import heatmap_counts
from core.epoch import day_of, epoch_ms
from core.heatmap_counts import Counts
from core.heatmaps import field_safe, field_unsafe
from storage import engine
from storage.database import Database, Document, query_time_ms

COLLECTION = "heatmap_rollups"
# Rollup lookups in flight at once for one read.
READ_CONCURRENCY = 4
# A rollup's packed deltas are summed into one once there are this many.
FOLD_AT = 32
LEGACY_MAPS = ("cells", "elements", "steps")
LEGACY_TOTALS = ("total", "views")
# Marks that catalogs were built for rollups written before catalogs existed.
CATALOG_MIGRATION_ID = "migration:heatmap-catalogs:v1"


def _hashed(*parts: object) -> str:
    return hashlib.sha256(orjson.dumps(list(parts))).hexdigest()[:32]


def catalog_id(site_id: str, kind: str, page: str) -> str:
    return "catalog:" + _hashed(site_id, kind, page)


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
        return _hashed(self.site_id, self.kind, self.page, self.device, self.band, self.day)

    @property
    def catalog_id(self) -> str:
        return catalog_id(self.site_id, self.kind, self.page)

    @property
    def entry(self) -> str:
        """This bucket's field name in its page's catalog."""
        return f"{self.band}:{self.day}:{field_safe(self.device)}"

    def identity(self) -> Document:
        return {"site_id": self.site_id, "kind": self.kind, "page": self.page,
                "device": self.device, "band": self.band, "day": self.day}  # fmt: skip


def key_of_entry(site_id: str, kind: str, page: str, entry: str) -> BucketKey | None:
    band, day, device = [*entry.split(":", 2), "", ""][:3]
    if not band.lstrip("-").isdigit() or not day.lstrip("-").isdigit() or not device:
        return None
    return BucketKey(site_id, kind, page, field_unsafe(device), int(band), int(day))


@dataclass
class Increments:
    """Counter increments gathered in memory, written as one `$inc` per bucket."""

    by_bucket: dict[BucketKey, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, key: BucketKey, counter: str, amount: int = 1) -> None:
        counters = self.by_bucket[key]
        counters[counter] = counters.get(counter, 0) + amount

    def __len__(self) -> int:
        return len(self.by_bucket)


def _weight(counts: Mapping[str, Any]) -> int:
    """What a bucket counts: clicks or moves (`total`), or page views for scroll depth."""
    return int(counts.get("total", 0) or 0) + int(counts.get("views", 0) or 0)


def _catalog_increments(increments: Increments) -> dict[BucketKey, dict[str, int]]:
    """Per page (any bucket of it stands for the page): the catalog entries to add."""
    pages: dict[str, tuple[BucketKey, dict[str, int]]] = {}
    for key, counters in increments.by_bucket.items():
        _, entries = pages.setdefault(key.catalog_id, (key, {}))
        name = "entries." + key.entry
        entries[name] = entries.get(name, 0) + _weight(counters)
    return dict(pages.values())


def _page_identity(key: BucketKey) -> Document:
    return {"site_id": key.site_id, "kind": key.kind, "page": key.page, "catalog": True}


def _counters(db: Database, site_id: str) -> AbstractAsyncContextManager[None]:
    """The site's rollups to oneself: counting a token and adding it are two steps, and on
    FerretDB two concurrent `$inc`/`$push` on one document lose one (storage.engine)."""
    return engine.serialized(db, f"heatmaps:{site_id}")


def _by_site(keys: Iterable[BucketKey]) -> dict[str, list[BucketKey]]:
    sites: dict[str, list[BucketKey]] = defaultdict(list)
    for key in keys:
        sites[key.site_id].append(key)
    return dict(sorted(sites.items()))


async def apply(db: Database, increments: Increments) -> None:
    """Add `increments` (tests and benches; workers use `apply_once` with their own token)."""
    token = uuid.uuid4().hex
    await apply_once(db, token, increments)
    await forget(db, token, list(increments.by_bucket))


async def apply_once(db: Database, token: str, increments: Increments) -> None:
    """Add `increments`, each document at most once for `token`, whatever ran before.

    A document keeps the tokens it has counted (in `applied`) until `forget` drops
    them, so a run repeated after a crash adds nothing twice. A site's documents are
    written by one writer at a time (`_counters`).
    """
    for site_id, keys in _by_site(increments.by_bucket).items():
        site = Increments({key: increments.by_bucket[key] for key in keys})
        async with _counters(db, site_id):
            await _apply_site(db, token, site)


async def _apply_site(db: Database, token: str, increments: Increments) -> None:
    for key, entries in _catalog_increments(increments).items():
        update = {"$setOnInsert": _page_identity(key), "$inc": entries}
        await _add_once(db, key.catalog_id, token, update)
    for key, counters in increments.by_bucket.items():
        update = {
            "$setOnInsert": key.identity(),
            "$push": {"deltas": _packed(counters)},
            "$inc": {"n": 1},
        }
        doc = await _add_once(db, key.doc_id, token, update)
        if doc is not None and doc.get("n", 0) >= FOLD_AT:
            await _fold(db, key.doc_id)


async def _add_once(db: Database, doc_id: str, token: str, update: Document) -> Document | None:
    """Apply `update` unless the document counted `token` already; the document after.

    Only `_id` filters, the one lookup FerretDB pushes down.
    """
    seen = await db[COLLECTION].find_one({"_id": doc_id}, projection={"applied": 1})
    if seen is not None and token in (seen.get("applied") or ()):
        return None
    push = {**update.get("$push", {}), "applied": token}
    return await _upsert(db, doc_id, {**update, "$push": push})


async def forget(db: Database, token: str, keys: list[BucketKey]) -> None:
    """Drop `token` from the rollups and catalogs once nothing can apply it again."""
    for site_id, site_keys in _by_site(keys).items():
        doc_ids = sorted({k.doc_id for k in site_keys} | {k.catalog_id for k in site_keys})
        async with _counters(db, site_id):
            for doc_id in doc_ids:
                await db[COLLECTION].update_one({"_id": doc_id}, {"$pull": {"applied": token}})


async def _upsert(db: Database, doc_id: str, update: Document) -> Document:
    """Apply `update` to the document, creating it if missing; the document after."""
    doc = await engine.raced_upsert(
        db,
        lambda: db[COLLECTION].find_one_and_update(
            {"_id": doc_id}, update, upsert=True, return_document=ReturnDocument.AFTER
        ),
    )
    return doc or {}


def _packed(counters: Mapping[str, int]) -> Binary:
    """Canonical bytes (`Counts.pack`): the same counts pack the same however the batches
    that made them were ordered, as they are when several workers write at once."""
    counts = Counts()
    counts.add_names(counters)
    return Binary(counts.pack())


def counts_of(doc: Document, into: Counts | None = None) -> Counts:
    """A rollup's counters: its packed deltas (binary or, written before, JSON) and the
    per-counter fields of rollups written before deltas existed, summed into `into` when
    given (one pass when merging many rollups)."""
    total = Counts() if into is None else into
    legacy: Counter[str] = Counter()
    for name in LEGACY_MAPS:
        legacy.update({f"{name}.{k}": v for k, v in (doc.get(name) or {}).items()})
    for name in LEGACY_TOTALS:
        if doc.get(name):
            legacy[name] += doc[name]
    if legacy:
        total.add_names(legacy)
    for delta in doc.get("deltas") or ():
        total.add(heatmap_counts.unpack(bytes(delta)))
    return total


def counters(doc: Document) -> Counter[str]:
    """A rollup's counters by name (`cells.c3r4`, `elements.…`, `steps.s5`, `total`, `views`)."""
    return counts_of(doc).names()


async def fold(db: Database, doc_id: str) -> bool:
    """`_fold`, among the site's writers (`_counters`)."""
    doc = await db[COLLECTION].find_one({"_id": doc_id}, projection={"site_id": 1})
    if doc is None:
        return False
    async with _counters(db, doc["site_id"]):
        return await _fold(db, doc_id)


async def _fold(db: Database, doc_id: str) -> bool:
    """Sum a rollup's deltas (and any legacy fields) into one delta; False if it moved on.

    Conditional on the delta count read, so a batch pushed meanwhile makes this fold a
    no-op (the next batch folds again) and nothing is ever lost or counted twice.
    """
    doc = await db[COLLECTION].find_one({"_id": doc_id})
    if doc is None:
        return False
    # Rollups written before deltas have no count yet: matched by its absence.
    written = doc.get("n", {"$exists": False})
    result = await db[COLLECTION].update_one(
        {"_id": doc_id, "n": written},
        {
            "$set": {"deltas": [Binary(counts_of(doc).pack())], "n": 1},
            "$unset": dict.fromkeys((*LEGACY_MAPS, *LEGACY_TOTALS), ""),
        },
    )
    return result.modified_count == 1


def to_document(increments: Increments) -> list[Document]:
    """Increments in a form FerretDB stores: counter names hold dots (so they are values
    here) and nested arrays are refused (so names and amounts are two arrays)."""
    return [
        {
            "key": list(key.identity().values()),
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

    def wants(self, key: BucketKey) -> bool:
        first_day = day_of(epoch_ms(self.start))
        in_range = first_day <= key.day < epoch_ms(self.end)
        return in_range and (self.device is None or key.device == self.device)


async def buckets(db: Database, q: HeatmapQuery) -> dict[BucketKey, int]:
    """The page's rollup keys in the query's range and device, with what each counts."""
    catalog = await db[COLLECTION].find_one(
        {"_id": catalog_id(q.site_id, q.kind, q.page)}, max_time_ms=query_time_ms(db)
    )
    found: dict[BucketKey, int] = {}
    for entry, weight in ((catalog or {}).get("entries") or {}).items():
        key = key_of_entry(q.site_id, q.kind, q.page, entry)
        if key is not None and q.wants(key):
            found[key] = int(weight)
    return found


async def fetch(db: Database, keys: Iterable[BucketKey]) -> list[Document]:
    """The rollup documents of these keys (missing ones left out), one `_id` lookup each."""
    gate = asyncio.Semaphore(READ_CONCURRENCY)

    async def one(key: BucketKey) -> Document | None:
        async with gate:
            return await db[COLLECTION].find_one({"_id": key.doc_id}, max_time_ms=query_time_ms(db))

    docs = await asyncio.gather(*(one(key) for key in sorted(keys, key=lambda k: k.doc_id)))
    return [doc for doc in docs if doc is not None]


async def build_catalogs(db: Database) -> int:
    """Catalog entries for rollups written before catalogs existed; run once, at start-up.

    Idempotent (`$max`, so running twice or beside live workers never double-counts an
    entry's total); the whole collection is read once, then a marker skips it for good.
    """
    if await db[COLLECTION].find_one({"_id": CATALOG_MIGRATION_ID}) is not None:
        return 0
    cursor = db[COLLECTION].find({"day": {"$exists": True}, "catalog": {"$ne": True}})
    added = 0
    async for doc in cursor:
        key = BucketKey(doc["site_id"], doc["kind"], doc["page"], doc["device"], doc["band"],
                        doc["day"])  # fmt: skip
        await db[COLLECTION].update_one(
            {"_id": key.catalog_id},
            {"$setOnInsert": _page_identity(key), "$max": {"entries." + key.entry: _weight(doc)}},
            upsert=True,
        )
        added += 1
    with contextlib.suppress(DuplicateKeyError):  # another process finished it first
        await db[COLLECTION].insert_one({"_id": CATALOG_MIGRATION_ID, "rollups": added})
    return added
