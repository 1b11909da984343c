"""Signed, short-lived links to `GET /replay/{id}`."""

from core.signing import signed_query, verify

PURPOSE = "replay"
TTL_S = 15 * 60


def replay_path(secret_key: bytes, session_internal_id: str) -> str:
    query = signed_query(secret_key, PURPOSE, session_internal_id, TTL_S)
    return f"/replay/{session_internal_id}?{query}"


def link_is_valid(
    secret_key: bytes, session_internal_id: str, expires: str, signature: str
) -> bool:
    return verify(secret_key, PURPOSE, session_internal_id, expires, signature)
