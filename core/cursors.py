"""Keyset cursors that are opaque, signed and typed.

A cursor says where a page ended: the last row's sort value and id, which the next page's
query compares against. Were it plain JSON, a client could put anything there, and an
operator such as `{"$ne": null}` made every row match. So a cursor is `payload.signature`,
both base64url: the payload is the JSON `[tag, value, id]`, where the tag says the value's
type (`t` a time in epoch milliseconds, `i` an integer, `n` none), and the signature is an
HMAC-SHA-256, keyed with the server's secret, of the list the cursor belongs to and the
payload. Decoding checks the signature first (in constant time), then that the value is of
the type that list sorts by. A cursor from another list, another ordering of the same list,
or another server (or from before the secret key changed) is refused, like a forged one.
"""

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from core.epoch import epoch_ms, from_epoch_ms

MAX_CURSOR_LENGTH = 512
MAX_ID_LENGTH = 256
_SIGNATURE_BYTES = 16
_INT64 = 2**63
_MIN_MS = epoch_ms(datetime(1, 1, 2, tzinfo=UTC))
_MAX_MS = epoch_ms(datetime(9999, 12, 31, tzinfo=UTC))

Value = datetime | int | None


class CursorError(ValueError):
    """Not a cursor this server issued for this list."""


@dataclass(frozen=True)
class CursorKind:
    """One list's cursors: a name that sets them apart, and the type of their sort value."""

    name: str
    value_type: type[datetime] | type[int]
    nullable: bool = False


def encode(secret: bytes, kind: CursorKind, value: Value, doc_id: str) -> str:
    payload = orjson.dumps([*_tagged(kind, value), doc_id])
    return f"{_b64(payload)}.{_b64(_signature(secret, kind, payload))}"


def decode(secret: bytes, kind: CursorKind, cursor: str) -> tuple[Value, str]:
    """The sort value and id in `cursor`, or CursorError."""
    payload = _verified_payload(secret, kind, cursor)
    try:
        tag, raw, doc_id = orjson.loads(payload)
    except (orjson.JSONDecodeError, TypeError, ValueError):
        raise CursorError("malformed") from None
    if not isinstance(doc_id, str) or len(doc_id) > MAX_ID_LENGTH:
        raise CursorError("malformed")
    return _untagged(kind, tag, raw), doc_id


def _tagged(kind: CursorKind, value: Value) -> tuple[str, int | None]:
    if value is None and kind.nullable:
        return "n", None
    if kind.value_type is datetime and isinstance(value, datetime):
        return "t", epoch_ms(value)
    if kind.value_type is int and isinstance(value, int) and not isinstance(value, bool):
        return "i", value
    raise TypeError(f"{kind.name} cursors hold {kind.value_type.__name__}, not {value!r}")


def _untagged(kind: CursorKind, tag: object, raw: object) -> Value:
    if tag == "n" and raw is None and kind.nullable:
        return None
    if not isinstance(raw, int) or isinstance(raw, bool) or not -_INT64 <= raw < _INT64:
        raise CursorError("wrong type")
    if tag == "t" and kind.value_type is datetime and _MIN_MS <= raw <= _MAX_MS:
        return from_epoch_ms(raw)
    if tag == "i" and kind.value_type is int:
        return raw
    raise CursorError("wrong type")


def _verified_payload(secret: bytes, kind: CursorKind, cursor: str) -> bytes:
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_LENGTH or cursor.count(".") != 1:
        raise CursorError("malformed")
    encoded_payload, encoded_signature = cursor.split(".")
    try:
        payload, signature = _unb64(encoded_payload), _unb64(encoded_signature)
    except (binascii.Error, ValueError):
        raise CursorError("malformed") from None
    if not hmac.compare_digest(signature, _signature(secret, kind, payload)):
        raise CursorError("bad signature")
    return payload


def _signature(secret: bytes, kind: CursorKind, payload: bytes) -> bytes:
    message = b"cursor:" + kind.name.encode() + b":" + payload
    return hmac.new(secret, message, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
