"""Short-lived signed URLs, so a replay link works without a bearer header."""

import hashlib
import hmac
import time

_MAX_EXPIRES_DIGITS = 12  # far beyond any real expiry; keeps int() cheap and in range


def sign(secret_key: bytes, purpose: str, subject: str, expires: int) -> str:
    message = f"{purpose}:{subject}:{expires}".encode()
    return hmac.new(secret_key, message, hashlib.sha256).hexdigest()


def signed_query(secret_key: bytes, purpose: str, subject: str, ttl_s: int) -> str:
    expires = int(time.time()) + ttl_s
    return f"expires={expires}&signature={sign(secret_key, purpose, subject, expires)}"


def verify(secret_key: bytes, purpose: str, subject: str, expires: str, signature: str) -> bool:
    """Constant-time check of `signature`; any malformed input is simply not valid."""
    if not _is_timestamp(expires) or int(expires) < time.time():
        return False
    expected = sign(secret_key, purpose, subject, int(expires))
    return hmac.compare_digest(expected.encode(), signature.encode())


def _is_timestamp(text: str) -> bool:
    # str.isdigit() alone accepts digits int() refuses, such as "²".
    return text.isascii() and text.isdigit() and len(text) <= _MAX_EXPIRES_DIGITS
