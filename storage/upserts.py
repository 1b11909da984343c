"""Upserts that survive a concurrent insert of the same document."""

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from storage.database import Document


async def upsert_once_raced(
    collection: AsyncCollection[Document], query: Document, update: Document
) -> None:
    """Upsert; when a concurrent upsert created the document first, update it.

    Two batches of a new session can arrive at once: both try to insert, the
    unique index lets one win, and the loser's update must then apply to the
    winner's document. (MongoDB retries this itself; FerretDB does not.)
    """
    try:
        await collection.update_one(query, update, upsert=True)
    except DuplicateKeyError:
        await collection.update_one(query, update, upsert=True)
