"""Every collection's indexes, created idempotently at start-up, and data migrations.

Only options that both MongoDB and FerretDB 1.24 accept are used here: no
partial, sparse or TTL indexes (retention is enforced by a worker job).
"""

from pymongo import ASCENDING, DESCENDING, IndexModel

from storage import engine, heatmaps, migrate
from storage.database import Database

INDEXES: dict[str, list[IndexModel]] = {
    "worker_heartbeats": [IndexModel([("at", DESCENDING)], name="at_desc")],
    "accounts": [IndexModel([("email", ASCENDING)], name="email_unique", unique=True)],
    "auth_tokens": [IndexModel([("account_id", ASCENDING)], name="account")],
    "api_keys": [
        IndexModel([("key_hash", ASCENDING)], name="key_hash_unique", unique=True),
        IndexModel([("account_id", ASCENDING), ("_id", ASCENDING)], name="account"),
    ],
    "sites": [
        IndexModel([("tracking_key", ASCENDING)], name="tracking_key_unique", unique=True),
        IndexModel([("account_id", ASCENDING), ("_id", ASCENDING)], name="account"),
    ],
    "recording_chunks": [
        IndexModel(
            [("site_id", ASCENDING), ("session_id", ASCENDING), ("seq", ASCENDING)],
            name="session_seq",
        ),
        IndexModel([("processed", ASCENDING), ("received_at", ASCENDING)], name="outbox"),
    ],
    "sessions": [
        IndexModel(
            [("site_id", ASCENDING), ("started_at", DESCENDING), ("_id", DESCENDING)],
            name="by_start",
        ),
        IndexModel(
            [("site_id", ASCENDING), ("duration_ms", DESCENDING), ("_id", DESCENDING)],
            name="by_duration",
        ),
        IndexModel(
            [("site_id", ASCENDING), ("visitor_id", ASCENDING), ("started_at", DESCENDING)],
            name="by_visitor",
        ),
        # A list by start time reads one hour at a time (storage.session_bucket_pages).
        IndexModel([("site_id", ASCENDING), ("start_bucket", ASCENDING)], name="by_hour"),
        # The compaction sweep, every minute: without it, a scan of every session.
        IndexModel(
            [("needs_compaction", ASCENDING), ("last_chunk_at", ASCENDING)], name="compaction"
        ),
    ],
    "session_buckets": [
        IndexModel(
            [("site_id", ASCENDING), ("level", ASCENDING), ("parent", ASCENDING)],
            name="site_level_parent",
        ),
    ],
    "recording_parts": [
        IndexModel(
            [("site_id", ASCENDING), ("session_id", ASCENDING), ("first_seq", ASCENDING)],
            name="session_seq",
        ),
    ],
    "events": [
        IndexModel(
            [("site_id", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)], name="by_time"
        ),
        IndexModel(
            [("site_id", ASCENDING), ("kind", ASCENDING), ("at", DESCENDING)], name="by_kind"
        ),
        IndexModel(
            [("site_id", ASCENDING), ("session_id", ASCENDING), ("kind", ASCENDING)],
            name="by_session",
        ),
        # Funnels stream events per unit in time order; read backwards, these also
        # serve a visitor's or a session's events newest first.
        IndexModel(
            [("site_id", ASCENDING), ("visitor_id", ASCENDING), ("at", ASCENDING)],
            name="visitor_time",
        ),
        IndexModel(
            [("site_id", ASCENDING), ("session_id", ASCENDING), ("at", ASCENDING)],
            name="session_time",
        ),
    ],
    "heatmap_rollups": [
        IndexModel(
            [("site_id", ASCENDING), ("kind", ASCENDING), ("page", ASCENDING), ("day", ASCENDING)],
            name="page_day",
        ),
    ],
    "funnels": [IndexModel([("site_id", ASCENDING), ("_id", ASCENDING)], name="site")],
    # Funnel event blocks (storage/event_blocks.py): every read is equality on these. No
    # index on a part's `session_ids`: FerretDB's btree would take the whole array as one
    # key, and a part's list is far over PostgreSQL's 2,704-byte limit for one.
    "event_blocks": [IndexModel([("site_id", ASCENDING), ("day", ASCENDING)], name="site_day")],
    "event_blocks_open": [
        IndexModel([("site_id", ASCENDING), ("day", ASCENDING)], name="site_day"),
        IndexModel([("site_id", ASCENDING), ("session_id", ASCENDING)], name="session"),
    ],
    "event_block_days": [IndexModel([("site_id", ASCENDING)], name="site")],
    # A download lists its slices: without it, a scan of every export's data.
    "exports": [
        IndexModel([("request_id", ASCENDING), ("index", ASCENDING)], name="request_slices"),
        # Erasure finds the exports holding a visitor or a session.
        IndexModel([("site_id", ASCENDING), ("visitor_id", ASCENDING)], name="visitor"),
        IndexModel([("site_id", ASCENDING), ("session_ids", ASCENDING)], name="sessions"),
    ],
    "claims": [IndexModel([("until", ASCENDING)], name="until")],
    "visitors": [IndexModel([("site_id", ASCENDING), ("first_seen_at", DESCENDING)], name="site")],
    "privacy_requests": [
        IndexModel([("status", ASCENDING), ("requested_at", ASCENDING)], name="status"),
        IndexModel([("site_id", ASCENDING), ("requested_at", DESCENDING)], name="site"),
    ],
}


async def ensure_indexes(db: Database) -> None:
    """Create every index that is missing, then run the data migrations not yet run."""
    for collection, models in INDEXES.items():
        await engine.create_indexes(db[collection], models)
    await heatmaps.build_catalogs(db)
    await migrate.run_pending(db)
