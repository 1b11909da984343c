"""What every resolver can reach: the process's resources and the request."""

from dataclasses import dataclass

from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import Response

from core.config import Settings
from storage.database import Database
from workers.queue import JobQueue


@dataclass(frozen=True)
class Resources:
    """Long-lived clients, opened and closed by the API's lifespan."""

    settings: Settings
    db: Database
    redis: Redis
    queue: JobQueue


@dataclass
class Context:
    resources: Resources
    request: Request
    response: Response
