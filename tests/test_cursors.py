"""Keyset cursors are opaque, signed and typed: a client cannot put a query value in one.

Every field of the schema with an `after` argument is fed forged cursors (the operator dict
that once matched every row, an unsigned or re-signed payload, a tampered one, another list's
cursor, garbage) and must answer BAD_REQUEST; its own `endCursor` must still page correctly.
"""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from graphql import GraphQLObjectType

from core import cursors
from core.config import Settings
from core.cursors import CursorError, CursorKind
from graph.schema import schema
from storage import sessions
from storage.database import Database
from storage.events import event_document
from storage.ids import session_key, visitor_key
from tests.accounts_helpers import data, error_code
from tests.events_helpers import store_derived
from tests.graphql_client import gql
from tests.world_fixtures import new_site

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
RANGE = '{start: "2026-03-01T00:00:00Z", end: "2026-03-09T00:00:00Z"}'
VISITOR = "visitor-0001"
SESSIONS = 4
ARGS = "query($s: ID!, $f: Int, $a: String)"
NODES = "nodes { id } pageInfo { hasNextPage endCursor }"

# Every paged field: the query, and where its connection is in the answer.
# fmt: off
PAGED: dict[str, tuple[str, tuple[str | int, ...]]] = {
    "Query.events": (ARGS + f"{{ events(siteId: $s, first: $f, after: $a) {{ {NODES} }} }}",
                     ("events",)),
    "Query.sessions": (ARGS + f"{{ sessions(siteId: $s, first: $f, after: $a) {{ {NODES} }} }}",
                       ("sessions",)),
    "Visitor.sessions": (ARGS + f"""{{ visitor(siteId: $s, id: "{VISITOR}") {{
                             sessions(first: $f, after: $a) {{ {NODES} }} }} }}""",
                         ("visitor", "sessions")),
    "FunnelStep.droppedSessions": (ARGS + f"""{{ funnelResult(siteId: $s, range: {RANGE},
        definition: {{steps: [{{type: PAGE_VIEW}}, {{type: CLICK}}]}}) {{ steps {{
          droppedSessions(first: $f, after: $a) {{
            nodes {{ id: unitId }} pageInfo {{ hasNextPage endCursor }} }} }} }} }}""",
        ("funnelResult", "steps", 1, "droppedSessions")),
}
# fmt: on
ORDERED = ARGS.replace(")", ", $o: SessionOrder)") + (
    f"{{ sessions(siteId: $s, first: $f, after: $a, orderBy: $o) {{ {NODES} }} }}"
)
ORDERS = ["STARTED_AT_DESC", "STARTED_AT_ASC", "DURATION_DESC", "DURATION_ASC"]


def _paged_fields() -> set[str]:
    graphql_schema = schema._schema
    return {
        f"{type_.name}.{name}"
        for type_ in graphql_schema.type_map.values()
        if isinstance(type_, GraphQLObjectType) and not type_.name.startswith("__")
        for name, field in type_.fields.items()
        if "after" in field.args
    }


def test_every_paged_field_is_covered() -> None:
    assert _paged_fields() == PAGED.keys()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def _forged(valid: str, foreign: list[str]) -> dict[str, str]:
    payload, signature = valid.split(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    tag, value, doc_id = orjson.loads(raw)
    other_id = _b64(orjson.dumps([tag, value, doc_id + "\uffff"])).rstrip("=")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return {
        "operator dict, old format": _b64(orjson.dumps([{"$ne": None}, "\uffff"])),
        "where, old format": _b64(orjson.dumps([{"$where": "sleep(1000)"}, "x"])),
        "time, old format": _b64(orjson.dumps([{"t": 1_772_445_600_000}, doc_id])),
        "operator dict, unsigned": _b64(orjson.dumps(["t", {"$ne": None}, "\uffff"])),
        "operator dict, signature kept": f"{_b64(orjson.dumps([tag, {'$gt': ''}, doc_id]))}"
        f".{signature}",
        "id changed, signature kept": f"{other_id}.{signature}",
        "signature tampered": f"{payload}.{flipped}",
        "signature missing": payload,
        "signature empty": f"{payload}.",
        "two signatures": f"{valid}.{signature}",
        "garbage": "nonsense",
        "empty": "",
        "not base64": "%%%.%%%",
        "not ascii": "ü.ü",
        # Under the 4,096-character bound on every string, so the cursor decoder sees it.
        "very long": "A" * 4_000 + "." + signature,
        **{f"from {n}": cursor for n, cursor in enumerate(foreign)},
    }


def _connection(body: dict[str, Any], path: tuple[str | int, ...]) -> dict[str, Any]:
    found: Any = data(body)
    for step in path:
        found = found[step]
    connection: dict[str, Any] = found
    return connection


@pytest_asyncio.fixture
async def site(client: httpx.AsyncClient, db: Database) -> tuple[str, str]:
    """A site with SESSIONS sessions of one visitor, each with two page views."""
    made = await new_site(client)
    token, site_id = made.token, made.id
    await db["visitors"].insert_one(
        {"_id": visitor_key(site_id, VISITOR), "site_id": site_id, "visitor_id": VISITOR,
         "first_seen_at": T0, "last_seen_at": T0 + timedelta(hours=SESSIONS)}
    )  # fmt: skip
    documents = []
    for n in range(SESSIONS):
        session_id, start = f"session-{n}", T0 + timedelta(hours=n)
        key = session_key(site_id, session_id)
        await sessions.insert_whole(
            db,
            {"_id": key, "site_id": site_id, "session_id": session_id, "visitor_id": VISITOR,
             "started_at": start, "last_activity_at": start + timedelta(minutes=n + 1),
             "duration_ms": (n + 1) * 60_000 if n % 2 else (SESSIONS - n) * 60_000}
        )  # fmt: skip
        base = {"site_id": site_id, "session_id": session_id, "visitor_id": VISITOR}
        ms = int(start.timestamp() * 1000)
        for i in range(2):
            fields = {"kind": "page_view", "url": "https://shop.example/", "path": "/"}
            documents.append(event_document({"_id": f"{key}:{i}", **base}, fields, ms + i * 1000))
    await store_derived(db, documents)
    return token, site_id


async def _page(
    client: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    return await gql(client, query, variables, token=token)


async def test_forged_cursors_are_refused_and_end_cursors_page_on_every_paged_field(
    client: httpx.AsyncClient, site: tuple[str, str]
) -> None:
    token, site_id = site
    first_cursors = {}
    for name, (query, path) in PAGED.items():
        one = _connection(await _page(client, token, query, {"s": site_id, "f": 1}), path)
        first_cursors[name] = one["pageInfo"]["endCursor"]
    for name, (query, path) in PAGED.items():
        everything = _connection(await _page(client, token, query, {"s": site_id, "f": 100}), path)
        ids = [node["id"] for node in everything["nodes"]]
        assert len(ids) >= 3, (name, ids)
        seen, after = [], None
        while True:
            variables = {"s": site_id, "f": 2, "a": after}
            page = _connection(await _page(client, token, query, variables), path)
            seen += [node["id"] for node in page["nodes"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == ids, name
        foreign = [cursor for other, cursor in first_cursors.items() if other != name]
        for forgery, cursor in _forged(first_cursors[name], foreign).items():
            body = await _page(client, token, query, {"s": site_id, "f": 2, "a": cursor})
            assert error_code(body) == "BAD_REQUEST", (name, forgery, body)
            assert "cursor is not valid" in body["errors"][0]["message"], (name, forgery)


@pytest.mark.parametrize("order", ORDERS)
async def test_session_cursors_page_in_their_own_order_only(
    client: httpx.AsyncClient, site: tuple[str, str], order: str
) -> None:
    token, site_id = site
    everything = data(await gql(client, ORDERED, {"s": site_id, "o": order}, token=token))
    ids = [node["id"] for node in everything["sessions"]["nodes"]]
    one = data(await gql(client, ORDERED, {"s": site_id, "o": order, "f": 1}, token=token))
    cursor = one["sessions"]["pageInfo"]["endCursor"]
    rest = await gql(client, ORDERED, {"s": site_id, "o": order, "a": cursor}, token=token)
    assert [node["id"] for node in data(rest)["sessions"]["nodes"]] == ids[1:]
    for other in set(ORDERS) - {order}:
        body = await gql(client, ORDERED, {"s": site_id, "o": other, "a": cursor}, token=token)
        assert error_code(body) == "BAD_REQUEST", (order, other)


def test_cursors_signed_by_another_key_are_refused(settings: Settings) -> None:
    kind = CursorKind("events.at", datetime)
    cursor = cursors.encode(b"another server's key, 32 bytes!!", kind, T0, "e1")
    with pytest.raises(CursorError):
        cursors.decode(settings.secret_key, kind, cursor)


def _signed(secret: bytes, kind: CursorKind, payload: list[Any]) -> str:
    """A cursor made by hand, to the format `core.cursors` documents."""
    raw = json.dumps(payload).encode()
    mac = hmac.new(secret, b"cursor:" + kind.name.encode() + b":" + raw, hashlib.sha256)
    return f"{_b64(raw).rstrip('=')}.{_b64(mac.digest()[:16]).rstrip('=')}"


TIME = CursorKind("times", datetime)
NUMBER = CursorKind("numbers", int)
MAYBE = CursorKind("maybe numbers", int, nullable=True)


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        (TIME, ["i", 5, "x"]),
        (TIME, ["t", {"$ne": None}, "x"]),
        (TIME, ["t", "2026-01-01", "x"]),
        (TIME, ["t", 10**30, "x"]),
        (TIME, ["t", 1.5, "x"]),
        (TIME, ["n", None, "x"]),
        (NUMBER, ["t", 5, "x"]),
        (NUMBER, ["i", True, "x"]),
        (NUMBER, ["i", 2**63, "x"]),
        (NUMBER, ["i", 5, {"$gt": ""}]),
        (NUMBER, ["i", 5, 7]),
        (NUMBER, ["i", 5, "x" * 1000]),
        (NUMBER, ["i", 5]),
        (NUMBER, {"i": 5}),
        (MAYBE, ["n", 5, "x"]),
    ],
)
def test_a_signed_cursor_of_the_wrong_type_is_refused(kind: CursorKind, payload: Any) -> None:
    secret = b"k" * 32
    with pytest.raises(CursorError):
        cursors.decode(secret, kind, _signed(secret, kind, payload))


@pytest.mark.parametrize(
    ("kind", "value"), [(TIME, T0), (NUMBER, -(2**63)), (NUMBER, 0), (MAYBE, None), (MAYBE, 7)]
)
def test_cursors_read_back_what_was_written(kind: CursorKind, value: Any) -> None:
    secret = b"k" * 32
    assert cursors.decode(secret, kind, cursors.encode(secret, kind, value, "id")) == (value, "id")
