"""`GET /replay/{id}`: a session's rrweb events as one gzip-compressed JSON array.

The URL is signed and short-lived (GraphQL's `Session.replayUrl` makes it), so
a player can fetch it without credentials. The body is streamed piece by
piece: a long session never sits in memory whole.
"""

import zlib
from collections.abc import AsyncIterator

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from core.replay_links import link_is_valid
from service.resources import Resources
from storage import sessions, sites
from storage.database import Database
from storage.recording_stream import iter_session_events
from storage.sessions import SessionRef


async def _gzip_json_array(pieces: AsyncIterator[list[dict[str, object]]]) -> AsyncIterator[bytes]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    yield compressor.compress(b"[")
    first = True
    async for events in pieces:
        for event in events:
            prefix = b"" if first else b","
            first = False
            out = compressor.compress(prefix + orjson.dumps(event))
            if out:
                yield out
    yield compressor.compress(b"]") + compressor.flush()


async def _live_session(db: Database, session_internal_id: str) -> SessionRef | None:
    session = await sessions.find_ref(db, session_internal_id)
    if session is None or not await sites.is_live(db, session.site_id):
        return None
    return session


async def replay(request: Request) -> Response:
    resources: Resources = request.app.state.resources
    session_internal_id = request.path_params["session_id"]
    expires = request.query_params.get("expires", "")
    signature = request.query_params.get("signature", "")
    if not link_is_valid(resources.settings.secret_key, session_internal_id, expires, signature):
        return JSONResponse(
            {"error": "The replay link is invalid or has expired."}, status_code=403
        )
    session = await _live_session(resources.db, session_internal_id)
    if session is None:
        return JSONResponse({"error": "No such session."}, status_code=404)
    pieces = iter_session_events(resources.db, session.site_id, session.session_id)
    return StreamingResponse(
        _gzip_json_array(pieces),
        media_type="application/json",
        headers={"Content-Encoding": "gzip", "Cache-Control": "private, no-store"},
    )
