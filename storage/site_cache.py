"""Sites by tracking key, cached briefly for the ingest hot path.

Every batch names its site by tracking key; caching the lookup for a few
seconds saves a database round trip per batch. This process forgets an entry
as soon as it changes the site (`forget`); other API processes see a rotated
key or changed privacy settings within `TTL_S` seconds.
"""

from cachetools import TTLCache

from storage import sites
from storage.database import Database
from storage.sites import SiteDocument

TTL_S = 5.0
MAX_ENTRIES = 10_000


class SiteCache:
    def __init__(self, ttl_s: float = TTL_S) -> None:
        self._entries: TTLCache[str, SiteDocument | None] = TTLCache(MAX_ENTRIES, ttl_s)

    async def by_tracking_key(self, db: Database, tracking_key: str) -> SiteDocument | None:
        if tracking_key in self._entries:
            return self._entries[tracking_key]
        site = await sites.find_by_tracking_key(db, tracking_key)
        self._entries[tracking_key] = site
        return site

    def forget(self, tracking_key: str) -> None:
        self._entries.pop(tracking_key, None)
