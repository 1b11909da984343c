"""The queries that run per request or per job, and the index each relies on.

One catalog for three readers: `docs/scaling.md` lists it, `bench/explain.py`
asks the server to plan each entry, and `tests/test_hot_query_indexes.py`
checks that the named index in `storage.indexes` serves its equality fields,
then its sort (or its range), so catalog and indexes cannot drift apart.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.epoch import epoch_ms
from storage import event_blocks, events, parts, recordings, sessions
from storage.database import Document

SITE = "6b0b91e55d5cf409b79cc124"
T0, T1 = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
DAY0, DAY1 = epoch_ms(T0), epoch_ms(T1)
PRIMARY = "_id_"

# The collections that grow with traffic. FerretDB pushes only top-level equality down to
# PostgreSQL, so every query on these selects by equality on `site_id` (or `_id`) and never
# by `_id: {$in: …}`; the rest of a selection is finished on the session's few rows.
# tests/test_large_collection_queries.py checks every command a realistic flow sends.
LARGE_COLLECTIONS = (events.COLLECTION, recordings.COLLECTION, parts.COLLECTION,
                     sessions.COLLECTION, event_blocks.OPEN, event_blocks.FOLDED)  # fmt: skip


@dataclass(frozen=True)
class HotQuery:
    name: str
    function: str
    collection: str
    index: str
    equality: tuple[str, ...]
    sort: tuple[tuple[str, int], ...] = ()
    range: str | None = None
    filter: Document = field(default_factory=dict)
    note: str = ""

    @property
    def find(self) -> Document:
        """The `find` command `explain` plans: the filter, the sort, one page."""
        command: Document = {"find": self.collection, "filter": self.filter, "limit": 101}
        if self.sort:
            command["sort"] = dict(self.sort)
        return command


def _site(**rest: object) -> Document:
    return {"site_id": SITE, **rest}


HOT_QUERIES: list[HotQuery] = [
    # Per request: the API.
    HotQuery("caller by login token", "storage.auth_tokens.find_valid_token", "auth_tokens",
             PRIMARY, ("_id",), filter={"_id": "hash"}),
    HotQuery("caller by API key", "storage.api_keys.find_by_hash", "api_keys",
             "key_hash_unique", ("key_hash",), filter={"key_hash": "hash"}),
    HotQuery("site of an ingest batch", "storage.sites.find_by_tracking_key", "sites",
             "tracking_key_unique", ("tracking_key",),
             filter={"tracking_key": "slk_x", "deleted_at": None},
             note="cached in the API process (`storage.site_cache`)"),
    HotQuery("ingest: chunk, session and visitor writes", "api.ingest.pipeline.store_batch",
             "recording_chunks", PRIMARY, ("_id",), filter={"_id": f"{SITE}:s:0000000001"},
             note="keyed `site:session[:seq]`, upserts by `_id`"),
    HotQuery("sites of an account", "storage.sites.list_owned_sites", "sites", "account",
             ("account_id",), (("_id", 1),), filter={"account_id": "a", "deleted_at": None}),
    HotQuery("API keys of an account", "storage.api_keys.list_api_keys", "api_keys", "account",
             ("account_id",), (("_id", 1),), filter={"account_id": "a"}),
    HotQuery("sessions by start time, one hour", "storage.session_bucket_pages.bucket_page",
             "sessions", "by_hour", ("site_id", "start_bucket"),
             filter=_site(start_bucket=DAY0, device_type="desktop"),
             note="time range and client fields; the hour's sessions are sorted in memory"),
    HotQuery("hours of a site with sessions", "storage.session_buckets.walk", "session_buckets",
             "site_level_parent", ("site_id", "level", "parent"),
             filter=_site(level="hour", parent=DAY0),
             note="spans, then days of a span, then hours of a day"),
    HotQuery("sessions, newest first, other filters", "storage.session_search.scan_sessions",
             "sessions", "by_start", ("site_id",), (("started_at", -1), ("_id", -1)),
             filter=_site(), note="filters other than the start time are checked on the index's "
             "documents; also before the hours are filled"),
    HotQuery("sessions, longest first", "storage.session_search.scan_sessions", "sessions",
             "by_duration", ("site_id",), (("duration_ms", -1), ("_id", -1)), filter=_site()),
    HotQuery("sessions of a visitor", "storage.session_search.scan_sessions", "sessions",
             "by_visitor", ("site_id", "visitor_id"), (("started_at", -1),),
             filter=_site(visitor_id="v"), note="the `_id` tie-break is sorted in memory"),
    HotQuery("events, newest first", "storage.events.search_events", "events", "by_time",
             ("site_id",), (("at", -1), ("_id", -1)), filter=_site()),
    HotQuery("event counts per bucket", "storage.events.count_by_bucket", "events", "by_time",
             ("site_id",), range="at", filter=_site(at={"$gte": T0, "$lt": T1})),
    HotQuery("funnel: days of a site with event blocks", "storage.event_blocks.read_range",
             "event_block_days", "site", ("site_id",), filter=_site()),
    HotQuery("funnel: open event blocks of a site", "storage.event_blocks.read_range",
             "event_blocks_open", "site_day", ("site_id",), filter=_site()),
    HotQuery("funnel: event block parts of a day", "storage.event_blocks.read_range",
             "event_blocks", "site_day", ("site_id", "day"), filter=_site(day=DAY0),
             note="or every part of the site, when the range holds half its days or more"),
    HotQuery("extraction: a session's open event blocks", "storage.event_blocks.record_session",
             "event_blocks_open", "session", ("site_id", "session_id"),
             filter=_site(session_id="s")),
    HotQuery("sessions of a funnel's drop-off page", "storage.funnels.session_details",
             "sessions", PRIMARY, ("_id",), filter={"_id": f"{SITE}:s"},
             note="one `_id` lookup per session of the page, four in flight"),
    HotQuery("saved funnels of a site", "storage.funnels.list_funnels", "funnels", "site",
             ("site_id",), (("_id", 1),), filter=_site()),
    HotQuery("heatmap catalog of a page", "storage.heatmaps.buckets", "heatmap_rollups",
             PRIMARY, ("_id",), filter={"_id": "catalog:hash"}),
    HotQuery("heatmap rollup of a day", "storage.heatmaps.fetch", "heatmap_rollups",
             PRIMARY, ("_id",), filter={"_id": "hash"}),
    HotQuery("privacy requests of a site", "storage.privacy_requests.list_for_site",
             "privacy_requests", "site", ("site_id",), (("requested_at", -1),), filter=_site()),
    HotQuery("export download: its slices", "storage.exports.slices", "exports",
             "request_slices", ("request_id",), (("index", 1),), filter={"request_id": "r"}),
    # Per job: the workers.
    HotQuery("session lease", "storage.claims.acquire", "claims", PRIMARY, ("_id",),
             filter={"_id": f"session:{SITE}:s"}),
    HotQuery("chunks of a session", "storage.recordings.session_chunks", "recording_chunks",
             "session_seq", ("site_id", "session_id"), (("seq", 1),),
             filter=_site(session_id="s", seq={"$gt": -1})),
    HotQuery("chunks of a session by seq (data, marks, deletion)",
             "storage.recordings.iter_chunk_data", "recording_chunks", "session_seq",
             ("site_id", "session_id"), (("seq", 1),),
             filter=_site(session_id="s", seq={"$in": [0, 1]}),
             note="also `mark_processed` and `delete_chunks`: `seq: {$in}` beside the "
                  "session's equality"),
    HotQuery("events of a session as extraction writes them", "storage.events.upsert_events",
             "events", "by_session", ("site_id", "session_id"), filter=_site(session_id="s"),
             note="read once per run (`SessionEvents.read`), and by `mark_rolled_up`; changed "
                  "events deleted and counted ones replaced one `_id` each, with the "
                  "session's keys; rollup marks set per kind"),
    HotQuery("parts of a session (replay)", "storage.parts.session_parts", "recording_parts",
             "session_seq", ("site_id", "session_id"), (("first_seq", 1),),
             filter=_site(session_id="s")),
    HotQuery("outbox sweep (every minute)", "storage.recordings.unprocessed_sessions",
             "recording_chunks", "outbox", ("processed",), range="received_at",
             filter={"processed": False, "received_at": {"$lt": T1}}),
    HotQuery("compaction sweep (every minute)", "storage.sessions.quiet_sessions", "sessions",
             "compaction", ("needs_compaction",), range="last_chunk_at",
             filter={"needs_compaction": True, "last_chunk_at": {"$lt": T1}}),
    HotQuery("privacy sweep (every minute)", "storage.privacy_requests.stale_pending_ids",
             "privacy_requests", "status", ("status",), range="requested_at",
             filter={"status": "pending", "requested_at": {"$lt": T1}},
             note="`status` is an `$in` of two values: two index ranges"),
    HotQuery("sessions of a visitor (erasure, export)",
             "storage.sessions.session_ids_of_visitor", "sessions", "by_visitor",
             ("site_id", "visitor_id"), filter=_site(visitor_id="v")),
]  # fmt: skip
