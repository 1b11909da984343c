"""Names people give things (accounts, sites, funnels, API keys): one rule for all of them."""

from graph.errors import UserError

MAX_NAME_LENGTH = 200
MAX_KEY_NAME_LENGTH = 100


def checked_name(name: str, most: int = MAX_NAME_LENGTH) -> str:
    """`name` without surrounding space; UserError unless 1 to `most` characters remain."""
    cleaned = name.strip()
    if not 1 <= len(cleaned) <= most:
        raise UserError(f"The name must have 1 to {most} characters.")
    return cleaned
