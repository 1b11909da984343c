"""`GET /exports/{request_id}`: a finished visitor export, through a signed link."""

from collections.abc import AsyncIterator

import zstandard
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from core.export_links import link_is_valid
from service.resources import Resources
from storage import exports


async def _stream(resources: Resources, slice_ids: list[str]) -> AsyncIterator[bytes]:
    for slice_id in slice_ids:
        blob = await exports.slice_data(resources.db, slice_id)
        if blob:
            reader = zstandard.ZstdDecompressor().stream_reader(blob)
            while chunk := reader.read(2**16):
                yield chunk


async def download_export(request: Request) -> Response:
    resources: Resources = request.app.state.resources
    request_id = request.path_params["request_id"]
    valid = link_is_valid(
        resources.settings.secret_key,
        request_id,
        request.query_params.get("expires", ""),
        request.query_params.get("signature", ""),
    )
    if not valid:
        return JSONResponse(
            {"error": "The export link is invalid or has expired."}, status_code=403
        )
    slice_ids = await exports.slices(resources.db, request_id)
    if not slice_ids:
        return JSONResponse(
            {"error": "No such export (exports are kept 24 hours)."}, status_code=404
        )
    return StreamingResponse(
        _stream(resources, slice_ids),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="visitor-export-{request_id}.json"',
            "Cache-Control": "private, no-store",
        },
    )
