"""What the server log may keep of a GraphQL error the client sees."""

from graphql import GraphQLError

from graph.errors import UserError


def loggable_message(error: GraphQLError) -> str:
    """Our own messages, which never quote secrets; not GraphQL's parsing and
    validation messages, which quote the request's values (a mistyped password
    variable, say)."""
    if isinstance(error.original_error, UserError):
        return error.message
    where = ", ".join(f"{loc.line}:{loc.column}" for loc in error.locations or [])
    return f"GraphQL refused the request (at {where or 'no location'}; message not logged)"
