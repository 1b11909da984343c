"""Links the API hands out, and the one place that builds them.

Every absolute URL in an answer is `SIGHTLINE_PUBLIC_URL` followed by a path, never the
request's Host header or base URL: the caller chooses those, and a link built from them
points wherever the caller likes (`Host: evil.example` would mint phishing links signed
by this deployment). Fields return `Link` rather than `String`, so the access rules in
`graph.access` can find every one of them: a link opens data to whoever holds it, and a
schema with a `Link` field that has no rule is refused.
"""

from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from core.config import Settings
from core.export_links import export_path
from core.replay_links import replay_path

Link = NewType("Link", str)

LINK: ScalarDefinition = strawberry.scalar(
    name="Link",
    description="An absolute URL under the deployment's public address "
    "(`SIGHTLINE_PUBLIC_URL`); signed links expire.",
    serialize=str,
)


def public_link(settings: Settings, path: str) -> Link:
    """`path` (starting with "/") under the deployment's public address."""
    return Link(settings.public_url + path)


def replay_link(settings: Settings, session_internal_id: str) -> Link:
    return public_link(settings, replay_path(settings.secret_key, session_internal_id))


def export_link(settings: Settings, request_id: str) -> Link:
    return public_link(settings, export_path(settings.secret_key, request_id))
