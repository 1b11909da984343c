"""The local engine serves FerretDB's pushed-down equality from an index, for every hot query.

A FerretDB of its own, on a PostgreSQL database where sequential scans are priced out
(`enable_seqscan = off`), so the plan shows whether an index *can* serve the query: every
hot query of `storage.hot_queries` whose filter FerretDB pushes down must be planned as a
scan of the table's equality index (scripts/equality_indexes.py), on tables created before
and after the database was opened.
"""

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from scripts.equality_indexes import INDEX_SUFFIX, equality_fields
from scripts.local_services import (
    Service,
    _psql,
    free_port,
    postgresql_database,
    start_ferretdb,
)
from storage.database import Database, create_client
from storage.hot_queries import HOT_QUERIES
from storage.indexes import ensure_indexes

DATABASE = "equality_indexes"


@pytest_asyncio.fixture
async def engine_db(postgresql: Service) -> AsyncIterator[Database]:
    url = postgresql_database(postgresql, DATABASE)
    _psql(postgresql, f"ALTER DATABASE {DATABASE} SET enable_seqscan = off")
    log = Path(tempfile.mkdtemp()) / "ferretdb.log"
    ferretdb = start_ferretdb(url, free_port(), log)
    client = create_client(ferretdb.url, app_name="equality-index-tests")
    try:
        yield client["sightline"]
    finally:
        await client.close()
        ferretdb.stop()


def _index_scans(plan: dict[str, Any]) -> list[str]:
    found = [plan["Index Name"]] if "Index Name" in plan else []
    for child in plan.get("Plans", []):
        found += _index_scans(child)
    return found


async def test_every_pushed_down_hot_query_is_served_by_an_equality_index(
    engine_db: Database, postgresql: Service
) -> None:
    await ensure_indexes(engine_db)
    for collection in equality_fields():
        await engine_db[collection].insert_one({"_id": "created-by-the-test"})
    checked = 0
    for query in HOT_QUERIES:
        answer = await engine_db.command("explain", query.find, verbosity="queryPlanner")
        if not answer.get("filterPushdown"):
            continue
        scans = _index_scans(answer["queryPlanner"]["Plan"])
        assert any(name.endswith(INDEX_SUFFIX) for name in scans), (query.name, answer)
        checked += 1
    assert checked >= len(HOT_QUERIES) // 2
    # A table made while the trigger was missing gets its index when the database is opened.
    _psql(postgresql, "DROP EVENT TRIGGER sightline_equality_indexes", database=DATABASE)
    await engine_db["made_before"].insert_one({"_id": 1})
    postgresql_database(postgresql, DATABASE)
    tables = _psql(
        postgresql,
        "SELECT count(*) FROM pg_tables t WHERE schemaname = 'sightline' "
        "AND tablename NOT LIKE '\\_ferretdb%' AND NOT EXISTS (SELECT 1 FROM pg_indexes i "
        "WHERE i.tablename = t.tablename AND i.indexname LIKE '%' || :'suffix')",
        database=DATABASE,
        suffix=INDEX_SUFFIX,
    )
    assert tables == "0"
