"""The `JSON` scalar, with the size of one value capped in every answer.

Custom event properties are capped where they are accepted (`core.json_size`); values stored
before that cap, or by any future JSON field, are held to it here too: a value over the cap is
not sent, its field answers null with a BAD_REQUEST error saying why.
"""

from dataclasses import replace

from strawberry.scalars import JSON
from strawberry.schema.types.scalar import DEFAULT_SCALAR_REGISTRY

from core.json_size import MAX_JSON_VALUE_BYTES, serialized_size
from graph.errors import UserError


def _bounded(value: object) -> object:
    size = serialized_size(value)
    if size > MAX_JSON_VALUE_BYTES:
        raise UserError(
            f"This JSON value is {size} bytes serialized, over the limit of "
            f"{MAX_JSON_VALUE_BYTES} bytes for one value, so it is not sent."
        )
    return value


BOUNDED_JSON = replace(DEFAULT_SCALAR_REGISTRY[JSON], serialize=_bounded)
