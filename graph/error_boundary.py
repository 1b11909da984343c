"""GraphQL's side of the error boundary: every error leaves with an `extensions.code`.

Each error of a result is sorted once (`classify`) and answered from the table in
`core.errors`:

- raised by our code as a `SightlineError`, or a driver error that table
  translates (MongoDB out of reach is `SERVICE_UNAVAILABLE`): its message and code;
- about the request itself, found before execution (a syntax error, a field that
  does not exist, a variable of the wrong type): GraphQL's message, `BAD_REQUEST`;
- anything else is a bug: "Unexpected error." with code `INTERNAL`, its trace
  only in the server log (`SightlineSchema.process_errors`).

`SightlineSchema.execute` applies it to every result, whatever the phase that
failed (an extension's hook that raises leaves the operation early, so an
extension could not see every error).
"""

from dataclasses import dataclass

from graphql import GraphQLError
from strawberry.exceptions import StrawberryInputCoercionError

from core.errors import ANSWERS, INTERNAL, INTERNAL_MESSAGE, BadRequest, SightlineError, translated


@dataclass(frozen=True)
class Verdict:
    """How one error is answered: `known` is None for a request error or a bug."""

    known: SightlineError | None
    about_the_request: bool

    @property
    def unexpected(self) -> bool:
        return self.known is None and not self.about_the_request


def classify(error: GraphQLError) -> Verdict:
    original = error.original_error
    if original is None:
        # GraphQL's own: a request error, or (with a path) a null where the schema
        # promised a value, which is still no secret.
        return Verdict(None, about_the_request=error.path is None)
    known = translated(original)
    if known is not None:
        return Verdict(known, about_the_request=False)
    # A variable or argument a scalar refused is about the request; an error of the
    # same kind during execution (a resolver's value the schema cannot serialize) is a bug.
    coercion = isinstance(original, GraphQLError | StrawberryInputCoercionError)
    return Verdict(None, about_the_request=coercion and error.path is None)


def answered(error: GraphQLError) -> GraphQLError:
    verdict = classify(error)
    if verdict.known is not None:
        return _rebuilt(error, verdict.known.message, verdict.known.extensions, verdict.known)
    if verdict.about_the_request:
        extensions = {"code": ANSWERS[BadRequest].code, **(error.extensions or {})}
        return _rebuilt(error, error.message, extensions, None)
    return _rebuilt(error, INTERNAL_MESSAGE, {"code": INTERNAL.code}, None)


def _rebuilt(
    error: GraphQLError,
    message: str,
    extensions: dict[str, str],
    original: Exception | None,
) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=original,
        extensions=extensions,
    )
