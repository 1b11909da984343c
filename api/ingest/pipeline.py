"""Storing one validated batch: privacy first, then the summaries, then the chunk.

The visitor (when due) and the session are written before the chunk, so a failure
at any step (the API answers 503) never leaves a chunk that no session leads to:
what is stored is visible in the API and found by retention and erasure. The
visitor goes first, so the session can note that it was written: later batches of
the session skip the visitor's write until it is due again (storage.visitors.due),
which leaves most batches with two writes instead of three. Every write
is idempotent (the chunk on (site, session, seq)), so a retry converges on the
same stored state and answers "stored" or "duplicate" by whether the chunk was
(or, once compaction has deleted the chunk, by the session's `compacted_seqs`).
"""

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.ingest import events as batch_events
from api.ingest.contract import Batch
from core.clients import anonymize_ip, country_of, parse_user_agent
from core.rrweb.privacy import PrivacyPolicy, PrivacyState, apply_privacy
from storage import recordings, sessions, sites, tombstones, visitors
from storage.crash_points import crash_point
from storage.database import Database
from storage.sites import SiteDocument


@dataclass(frozen=True)
class Visit:
    """What the request itself says about the visitor."""

    user_agent: str
    address: str
    received_at: datetime  # the server's clock: retention runs on it, never the client's


def policy_of(site: SiteDocument) -> PrivacyPolicy:
    privacy = sites.privacy_of(site)
    return PrivacyPolicy(
        record_inputs=privacy["record_inputs"],
        mask_selectors=tuple(privacy["mask_selectors"]),
        block_selectors=tuple(privacy["block_selectors"]),
    )


def _client(visit: Visit, site: SiteDocument) -> dict[str, Any]:
    info = parse_user_agent(visit.user_agent)
    anonymize = sites.privacy_of(site)["anonymize_ip"]
    return {
        "browser": info.browser,
        "browser_version": info.browser_version,
        "os": info.os,
        "os_version": info.os_version,
        "device_type": info.device_type,
        "country": country_of(visit.address),
        "ip": anonymize_ip(visit.address) if anonymize else visit.address,
    }


async def _erased(db: Database, secret_key: bytes, site_id: str, batch: Batch) -> bool:
    marks = [
        tombstones.visitor_mark(secret_key, site_id, batch.visitor_id),
        tombstones.session_mark(secret_key, site_id, batch.session_id),
    ]
    return await tombstones.any_buried(db, marks)


async def store_batch(
    db: Database,
    site: SiteDocument,
    batch: Batch,
    raw_events: list[dict[str, Any]],
    visit: Visit,
    secret_key: bytes,
    admitted: Awaitable[None],
) -> str:
    """Store the batch: "stored", "duplicate" (a retry), or "erased" (not recorded).

    `admitted` (the rate limit, say) raises to refuse the batch; it runs while the
    session is read, and nothing is written before it has passed.
    """
    site_id = site["_id"]
    existing, _ = await asyncio.gather(
        sessions.find_session(db, site_id, batch.session_id), admitted
    )
    if existing is None and await _erased(db, secret_key, site_id, batch):
        return "erased"
    state = PrivacyState.from_document(existing.get("privacy_state") if existing else None)
    stream = apply_privacy(batch_events.stream(batch, raw_events), policy_of(site), state)
    if not stream:
        return "stored"
    if sessions.holds_compacted(existing, batch.seq):
        return "duplicate"  # compaction deleted its chunk, after noting its seq
    client = _client(visit, site)
    first_ts = min(e["timestamp"] for e in stream)
    last_ts = max(e["timestamp"] for e in stream)
    visitor_due = visitors.due(sessions.visitor_noted_at(existing), visit.received_at)
    if visitor_due:
        await visitors.record_visit(
            db,
            site_id=site_id,
            visitor_id=batch.visitor_id,
            first_ts=first_ts,
            last_ts=last_ts,
            client=client,
            received_at=visit.received_at,
        )
        crash_point("ingest.visitor_written")
    await sessions.record_batch(
        db,
        sessions.BatchSummary(
            site_id=site_id,
            session_id=batch.session_id,
            visitor_id=batch.visitor_id,
            seq=batch.seq,
            first_ts=first_ts,
            last_ts=last_ts,
            event_count=len(stream),
            pages=batch_events.page_visits(stream),
            urls=[batch.page.url],
            viewport=batch_events.viewport(stream),
            client=client,
            privacy_state=state.to_document(),
            visitor_noted_at=visit.received_at if visitor_due else None,
        ),
        existing,
    )
    crash_point("ingest.session_written")
    meta = recordings.ChunkMeta(
        site_id, batch.session_id, batch.visitor_id, batch.seq, visit.received_at
    )
    inserted = await recordings.insert_chunk(db, meta, stream)
    crash_point("ingest.chunk_written")
    return "stored" if inserted else "duplicate"
