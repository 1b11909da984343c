"""What every resolver can reach: the process's resources and the request."""

from dataclasses import dataclass

from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import Response

from core.breaker import Breaker
from core.config import Settings
from core.passwords import Passwords
from core.throttle import Throttle
from graph.auth import Principal
from graph.errors import AuthenticationError
from graph.login_throttle import LoginThrottle
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


@dataclass
class Context:
    resources: Resources
    request: Request
    response: Response
    principal: Principal | None = None
    auth_failure: str | None = None

    @property
    def db(self) -> Database:
        return self.resources.db

    @property
    def caller(self) -> Principal:
        """Who is calling. Read by resolvers behind a rule that needs a caller (every rule
        but `Audience.ANYONE`, graph/access.py), which refuses the request before they run."""
        if self.principal is None:
            raise AuthenticationError(self.auth_failure or "Sign in or use an API key.")
        return self.principal

    @property
    def client_address(self) -> str:
        return self.request.client.host if self.request.client else "unknown"
