"""A processing run reads what it needs once, however many flushes it writes.

FerretDB decodes every row a read returns, so each extra read of a session's rows costs a
pass over all of them; a read repeated per flush makes a long session's run grow with the
square of its length. The same recording is processed as two sessions, one flushing after
every derived event and one flushing once, and the reads each sends to each collection
(PyMongo's command monitoring) must be the same.
"""

from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest
from pymongo import monitoring

from core.config import Settings
from storage.database import Database, create_client, database_of
from tests.ingest_helpers import send_recording, shop_events
from tests.world_fixtures import Site
from workers import processing

READS = ("find", "aggregate", "count", "distinct")


@dataclass
class Reads(monitoring.CommandListener):
    """Reads sent to one database, by collection."""

    database: str
    counts: Counter[str] = field(default_factory=Counter)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.database_name == self.database and event.command_name in READS:
            self.counts[str(event.command[event.command_name])] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def _reads_of_a_run(settings: Settings, site_id: str, session_id: str) -> Counter[str]:
    reads = Reads(settings.MONGODB_DATABASE)
    client = create_client(settings.mongodb_url, app_name="tests", listeners=[reads])
    try:
        db = database_of(client, settings.MONGODB_DATABASE)
        report = await processing.process_session(db, site_id, session_id)
    finally:
        await client.close()
    assert report.status == "done"
    assert report.events_written > 3
    return reads.counts


async def test_a_run_reads_each_collection_as_often_however_many_flushes_it_writes(
    client: httpx.AsyncClient,
    site: Site,
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for session_id in ("session-many-flushes", "session-one-flush"):
        await send_recording(client, site.tracking_key, shop_events(), session_id=session_id)

    monkeypatch.setattr(processing, "FLUSH_EVERY", 1)
    many = await _reads_of_a_run(settings, site.id, "session-many-flushes")
    monkeypatch.setattr(processing, "FLUSH_EVERY", 10_000)
    one = await _reads_of_a_run(settings, site.id, "session-one-flush")

    assert many == one
