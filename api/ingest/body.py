"""Reading an ingest body within fixed limits, compressed or not.

The compressed size is checked while the body streams in, and the
decompressed size while it inflates, so neither a large upload nor a gzip
bomb can make the server hold more than the limits.
"""

import zlib

from starlette.requests import Request


class BodyTooLarge(Exception):
    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"{what} is larger than {limit} bytes")


class BadEncoding(Exception):
    """The body claims or looks like a compression it does not decode as."""


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge("the request body", limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge("the request body", limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _wbits(body: bytes, encoding: str) -> int | None:
    if encoding == "gzip" or body[:2] == b"\x1f\x8b":
        return 16 + zlib.MAX_WBITS
    if encoding == "deflate" or (
        len(body) > 1 and body[0] == 0x78 and (body[0] * 256 + body[1]) % 31 == 0
    ):
        return zlib.MAX_WBITS
    if encoding not in {"", "identity"}:
        raise BadEncoding(f"unsupported Content-Encoding {encoding!r}")
    return None


def decompress_limited(body: bytes, encoding: str, limit: int) -> bytes:
    """Inflate a gzip or zlib body (by header or by its magic bytes), up to `limit` bytes."""
    wbits = _wbits(body, encoding.strip().lower())
    if wbits is None:
        return body
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadEncoding(f"the body is not valid compressed data ({exc})") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise BodyTooLarge("the decompressed body", limit)
    if not inflater.eof:
        raise BadEncoding("the compressed body is truncated")
    return out
