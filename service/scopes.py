"""What an API key may be allowed to do."""

from enum import StrEnum


class Scope(StrEnum):
    SITES_READ = "sites:read"
    SITES_WRITE = "sites:write"
    RECORDINGS_READ = "recordings:read"
    RECORDINGS_WRITE = "recordings:write"
    ANALYTICS_READ = "analytics:read"
    ANALYTICS_WRITE = "analytics:write"
    PRIVACY = "privacy"


ALL_SCOPES = frozenset(Scope)
