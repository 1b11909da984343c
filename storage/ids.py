"""Document ids: ObjectId strings, which sort by creation time."""

from bson import ObjectId


def new_id() -> str:
    return str(ObjectId())


# Recording data is keyed by the snippet's own ids, scoped to the site. These
# keys are the documents' _id, so the hot paths look documents up by _id (the
# one lookup FerretDB pushes down to its storage) and a retried batch collides
# on the primary key.


def session_key(site_id: str, session_id: str) -> str:
    return f"{site_id}:{session_id}"


def visitor_key(site_id: str, visitor_id: str) -> str:
    return f"{site_id}:{visitor_id}"


def chunk_key(site_id: str, session_id: str, seq: int) -> str:
    return f"{site_id}:{session_id}:{seq:010d}"


def seq_of_chunk_key(key: str) -> int:
    """The sequence number `chunk_key` put last in a chunk's key."""
    return int(key.rsplit(":", 1)[1])
