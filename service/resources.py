"""The handles a process holds: every client the API's routes and resolvers use."""

from dataclasses import dataclass

from redis.asyncio import Redis

from core.breaker import Breaker
from core.config import Settings
from core.passwords import Passwords
from core.throttle import Throttle
from service.login_throttle import LoginThrottle
from storage.database import Database
from storage.site_cache import SiteCache
from workers.queue import JobQueue


@dataclass(frozen=True)
class Resources:
    """Long-lived clients, opened and closed by the API's lifespan."""

    settings: Settings
    db: Database
    redis: Redis
    queue: JobQueue
    passwords: Passwords
    throttle: Throttle
    login_throttle: LoginThrottle
    redis_breaker: Breaker
    site_cache: SiteCache
