"""Bounds on the values written inline in an operation, as on those sent as variables.

Variables are checked where the body is decoded (`graph.view`); this checks the
literals of the parsed document with the same rules (`core.inputs`): a string
longer than the limit, or an integer too long for 64 bits (graphql-core would
hand its 5,000 digits to `int()`, which raises a plain ValueError) is a
`BAD_REQUEST` naming where it is.
"""

from collections.abc import Callable, Iterator
from functools import lru_cache

from graphql import DocumentNode, GraphQLError, IntValueNode, Node, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension

from core.errors import BadRequest
from core.inputs import check_text, parse_int

CACHE_SIZE = 512


class _Literals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.errors: list[GraphQLError] = []

    def enter_string_value(self, node: StringValueNode, *_: object) -> None:
        self._check(node, lambda where: check_text(node.value, where))

    def enter_int_value(self, node: IntValueNode, *_: object) -> None:
        self._check(node, lambda where: parse_int(node.value, where))

    def _check(self, node: Node, check: Callable[[str], object]) -> None:
        location = node.loc.source.get_location(node.loc.start) if node.loc else None
        where = f"The value at {location.line}:{location.column}" if location else "A value"
        try:
            check(where)
        except BadRequest as exc:
            self.errors.append(GraphQLError(exc.message, nodes=node, original_error=exc))


@lru_cache(maxsize=CACHE_SIZE)
def literal_errors(document: DocumentNode) -> list[GraphQLError]:
    literals = _Literals()
    visit(document, literals)
    return literals.errors


class InputBounds(SchemaExtension):
    """Refuses an operation whose literals break the bounds, with only those errors.

    Listed after `ValidationCache`: it replaces the validation's errors, which for
    a huge integer include graphql-core's unhelpful one.
    """

    def on_validate(self) -> Iterator[None]:
        document = self.execution_context.graphql_document
        if document is not None and (errors := literal_errors(document)):
            self.execution_context.pre_execution_errors = errors
        yield
