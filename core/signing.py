"""Short-lived signed URLs, so a replay link works without a bearer header."""

import hashlib
import hmac
import time


def sign(secret_key: bytes, purpose: str, subject: str, expires: int) -> str:
    message = f"{purpose}:{subject}:{expires}".encode()
    return hmac.new(secret_key, message, hashlib.sha256).hexdigest()


def signed_query(secret_key: bytes, purpose: str, subject: str, ttl_s: int) -> str:
    expires = int(time.time()) + ttl_s
    return f"expires={expires}&signature={sign(secret_key, purpose, subject, expires)}"


def verify(secret_key: bytes, purpose: str, subject: str, expires: str, signature: str) -> bool:
    if not expires.isdigit() or int(expires) < time.time():
        return False
    expected = sign(secret_key, purpose, subject, int(expires))
    return hmac.compare_digest(expected, signature)
