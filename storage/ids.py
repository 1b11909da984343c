"""Document ids: ObjectId strings, which sort by creation time."""

from bson import ObjectId


def new_id() -> str:
    return str(ObjectId())


def is_valid_id(value: str) -> bool:
    return ObjectId.is_valid(value)
