"""Bearer credentials: login tokens and API keys.

Both are high-entropy random strings with a recognizable prefix; only their
SHA-256 is ever stored, which is enough for secrets of this entropy and lets a
unique index find them. API keys also carry a CRC32 checksum, so a scanner (or
the API) can reject a mistyped or made-up key without a database lookup.
"""

import hashlib
import hmac
import secrets
import string
import zlib

SESSION_PREFIX = "sl_sess_"
API_KEY_PREFIX = "sl_live_"
_ALPHABET = string.digits + string.ascii_letters
_KEY_RANDOM_CHARS = 30  # 30 base62 characters: 178 bits
_KEY_CHECKSUM_CHARS = 6


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_session_token() -> str:
    return SESSION_PREFIX + secrets.token_urlsafe(32)


def new_api_key() -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_KEY_RANDOM_CHARS))
    return API_KEY_PREFIX + body + _checksum(body)


def is_well_formed_api_key(key: str) -> bool:
    if not key.startswith(API_KEY_PREFIX):
        return False
    rest = key[len(API_KEY_PREFIX) :]
    if len(rest) != _KEY_RANDOM_CHARS + _KEY_CHECKSUM_CHARS or not all(
        c in _ALPHABET for c in rest
    ):
        return False
    body, checksum = rest[:_KEY_RANDOM_CHARS], rest[_KEY_RANDOM_CHARS:]
    return hmac.compare_digest(checksum, _checksum(body))


def api_key_hint(key: str) -> str:
    return f"{API_KEY_PREFIX}…{key[-4:]}"


def keyed_hash(secret_key: bytes, value: str) -> str:
    """A salted (keyed) hash of an identifier, for records that must not hold it."""
    return hmac.new(secret_key, value.encode(), hashlib.sha256).hexdigest()


def _checksum(body: str) -> str:
    value = zlib.crc32(body.encode())
    chars = []
    for _ in range(_KEY_CHECKSUM_CHARS):
        value, rest = divmod(value, len(_ALPHABET))
        chars.append(_ALPHABET[rest])
    return "".join(reversed(chars))
