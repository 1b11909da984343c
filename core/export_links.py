"""Signed, short-lived links to `GET /exports/{id}`: made by GraphQL's
`PrivacyRequest.downloadUrl`, checked by the route."""

from core.signing import signed_query, verify

PURPOSE = "export"
TTL_S = 15 * 60


def export_path(secret_key: bytes, request_id: str) -> str:
    query = signed_query(secret_key, PURPOSE, request_id, TTL_S)
    return f"/exports/{request_id}?{query}"


def link_is_valid(secret_key: bytes, request_id: str, expires: str, signature: str) -> bool:
    return verify(secret_key, PURPOSE, request_id, expires, signature)
